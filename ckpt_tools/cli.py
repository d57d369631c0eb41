"""`runwatch ckpt inspect|edit|rewind|diff`: thin shells over the ckpt_tools API."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.runlock import checkpoint_run_dir, ensure_not_live, live_holder
from runwatch.schedule import CONTINUITY_MODES, SCHEDULE_NAMES
from runwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    ckpt = subparsers.add_parser(
        "ckpt", help="inspect, edit, rewind and diff checkpoints (no code in them ever runs)",
        description="Checkpoint surgery: read torch checkpoints without unpickling code, "
                    "preview and apply schedule edits, rewind a run.")
    sub = ckpt.add_subparsers(dest="ckpt_command", required=True, metavar="ACTION")

    p = sub.add_parser("inspect", help="what a checkpoint holds and the LRs it will resume with")
    p.add_argument("path", type=Path, help=".pt/.ckpt/.pth.tar file, or a Hugging Face Trainer "
                                           "checkpoint-N or Accelerate save_state folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--verify", action="store_true",
                   help="also replay the stored scheduler in torch (imports torch) and compare")
    _hint_options(p)
    p.set_defaults(func=run_inspect)

    p = sub.add_parser("edit", help="change the schedule in a checkpoint, with an LR preview")
    p.add_argument("path", type=Path)
    p.add_argument("-o", "--output", type=Path, help="the new checkpoint file")
    _edit_options(p)
    p.add_argument("--in-place", action="store_true",
                   help="replace the input (a backup copy PATH.bak is kept)")
    p.set_defaults(func=run_edit)

    p = sub.add_parser("rewind", help="resume a run from its best (or a given) epoch")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--to", default="best", help="'best' (by test accuracy) or an epoch number")
    _edit_options(p)
    p.set_defaults(func=run_rewind)

    p = sub.add_parser("diff", help="what differs between two checkpoints")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--values", action="store_true", help="also compare tensor bytes")
    p.set_defaults(func=run_diff)


def _hint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epoch-key", help="key path (dotted) of the epoch counter, where the file "
                                       "has several")
    p.add_argument("--scheduler-key", help="key path (dotted) of the scheduler state, where the "
                                           "file has several")
    p.add_argument("--steps-per-epoch", type=int,
                   help="how many times the scheduler steps per epoch (1: once per epoch), "
                        "where the file does not say")


def _hints(args: argparse.Namespace):
    from runwatch.ckpt_tools.tree import Hints

    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        raise RunwatchError(f"--steps-per-epoch {args.steps_per_epoch}: it must be at least 1")
    return Hints(epoch_key=args.epoch_key, scheduler_key=args.scheduler_key,
                 steps_per_epoch=args.steps_per_epoch)


def _milestones(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(m) for m in text.split(",") if m.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use epochs separated by commas, e.g. "
                                         "30,60,80") from None


def _edit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--t0", type=int, help="period of the warm restarts, in epochs")
    p.add_argument("--t-mult", type=int, help="factor of each next period")
    p.add_argument("--eta-min", type=float, help="lowest LR of the cosine")
    p.add_argument("--lr", type=float, help="peak (base) LR")
    p.add_argument("--schedule", choices=SCHEDULE_NAMES)
    p.add_argument("--epochs", type=int, help="planned total epochs")
    p.add_argument("--warmup", type=int, help="warmup epochs")
    p.add_argument("--total-steps", type=int,
                   help="planned total in the scheduler's own steps (a per-step scheduler's "
                        "length, a OneCycleLR's total_steps)")
    p.add_argument("--warmup-steps", type=int, help="warmup length in the scheduler's steps")
    p.add_argument("--milestones", type=_milestones,
                   help="MultiStepLR's decay epochs, comma-separated (e.g. 30,60,80)")
    p.add_argument("--gamma", type=float, help="decay factor (StepLR, MultiStepLR, "
                                               "ExponentialLR)")
    p.add_argument("--step-size", type=int, help="StepLR's period, in epochs")
    p.add_argument("--continuity", choices=CONTINUITY_MODES,
                   help="how the new schedule joins the old at the resume point "
                        "(default keep-phase)")
    p.add_argument("--no-oracle", action="store_true",
                   help="skip replaying the edit in torch (faster; the preview is then the "
                        "torch-free model's alone)")
    p.add_argument("--dry-run", action="store_true", help="preview only; write nothing")
    p.add_argument("--yes", action="store_true", help="write without asking")
    _hint_options(p)


def _request(args: argparse.Namespace):
    from runwatch.ckpt_tools.plan import EditRequest

    request = EditRequest(t0=args.t0, t_mult=args.t_mult, eta_min=args.eta_min, lr=args.lr,
                          schedule=args.schedule, epochs=args.epochs, warmup=args.warmup,
                          continuity=args.continuity, total_steps=args.total_steps,
                          warmup_steps=args.warmup_steps, milestones=args.milestones,
                          gamma=args.gamma, step_size=args.step_size,
                          oracle=not args.no_oracle)
    return None if request.is_empty() else request


def _say(text: str) -> None:
    """Print text holding paths or names from files, control characters escaped."""
    from runwatch.terminal import printable_lines

    print(printable_lines(text.split("\n")))


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        raise RunwatchError("no terminal to confirm on: review the preview, then pass --yes "
                            "(or --dry-run to only preview)")
    return input(f"{printable(question)} [y/N] ").strip().lower() in ("y", "yes")


def run_inspect(args: argparse.Namespace) -> int:
    from runwatch.ckpt_tools.inspect import inspect_checkpoint
    from runwatch.ckpt_tools.report import format_info

    info = inspect_checkpoint(args.path, _hints(args), verify=args.verify)
    print(json.dumps(info.to_dict(), indent=2) if args.json else format_info(info))
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from runwatch.ckpt_tools.edit import write_edit
    from runwatch.ckpt_tools.plan import plan_edit
    from runwatch.ckpt_tools.report import format_plan
    from runwatch.ckpt_tools.write import check_output_path

    request = _request(args)
    if request is None:
        raise RunwatchError("nothing to change: pass --lr, --epochs, --total-steps, --t0, "
                            "--t-mult, --eta-min, --warmup, --warmup-steps, --milestones, "
                            "--gamma, --step-size, --schedule or --continuity")
    out = args.path if args.in_place else args.output
    if out is None and not args.dry_run:
        raise RunwatchError("name the output with -o OUT (or --dry-run to only preview)")
    if out is not None:
        if not args.dry_run:  # before the preview: the answer would be no anyway
            ensure_not_live(checkpoint_run_dir(out))
        check_output_path(args.path, out, args.in_place)
    plan = plan_edit(args.path, request, _hints(args))
    print(format_plan(plan))
    if args.dry_run:
        _say(_dry_run_note(None if out is None else checkpoint_run_dir(out)))
        return 0
    if not _confirm(f"write {out}?", args.yes):
        print("not written")
        return 1
    written = write_edit(plan, out, in_place=args.in_place)
    _say(f"wrote {written} (reloaded and verified: its next LRs are the preview's)")
    if plan.resume_in_run:
        from runwatch.ckpt_tools.rewind import edit_resume_command

        _say(f"resume with (the trainer follows the edit and records a schedule_edit event):"
              f"\n  {edit_resume_command(written, args.path)}")
    elif plan.resume_hint:
        _say(plan.resume_hint.replace("OUT", shlex.quote(str(written))))
    return 0


def run_rewind(args: argparse.Namespace) -> int:
    from runwatch.ckpt_tools.report import format_plan
    from runwatch.ckpt_tools.rewind import apply_rewind, plan_rewind

    to = args.to if args.to == "best" else _epoch(args.to)
    if not args.dry_run:
        ensure_not_live(args.run_dir)
    plan = plan_rewind(args.run_dir, to=to, request=_request(args))
    acc = f" (test_acc1 {plan.test_acc1:.2f})" if plan.test_acc1 is not None else ""
    _say(f"rewind {plan.run_dir} to epoch {plan.to_epoch}{acc}: {plan.source}")
    _say(f"abandoned branch: epochs {_epochs(plan.abandoned_epochs)} (kept in the stream)")
    if plan.abandoned_best is not None:
        _say(f"{plan.abandoned_best} holds an abandoned epoch and the resumed run will replace "
              f"it at its first best: the rewind keeps a copy, {plan.abandoned_best_copy}")
    if plan.edit is not None:
        print(format_plan(plan.edit))
    if args.dry_run:
        _say(_dry_run_note(args.run_dir))
        return 0
    if not _confirm(f"write {plan.target} and the rewind event?", args.yes):
        print("not written")
        return 1
    result = apply_rewind(plan)
    _say(f"wrote {result.checkpoint}; resume with:\n  {result.resume_command}")
    return 0


def _dry_run_note(run_dir: Path | None) -> str:
    """A preview of a run whose trainer is running says that writing it is refused now."""
    holder = None if run_dir is None else live_holder(run_dir)
    if holder is None:
        return "dry run: nothing written"
    return f"dry run: nothing written; writing is refused now: {holder.describe()}"


def _epoch(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RunwatchError(f"--to {text!r}: use 'best' or an epoch number") from None
    if value < 1:
        raise RunwatchError(f"--to {value}: epochs start at 1")
    return value


def _epochs(epochs: list[int]) -> str:
    if not epochs:
        return "none"
    return f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else str(epochs[0])


def run_diff(args: argparse.Namespace) -> int:
    from runwatch.ckpt_tools.diff import diff_checkpoints
    from runwatch.ckpt_tools.report import format_diff

    result = diff_checkpoints(args.a, args.b, values=args.values)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_diff(result))
    return 0
