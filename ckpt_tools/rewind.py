"""Rewind a runwatch run to an earlier checkpoint, optionally editing its schedule on the way.

Nothing is deleted or overwritten: the chosen checkpoint is written to a new file
`checkpoints/rewind-from-NNNN.pt` (edited when asked), the stream gets a `rewind` event (the
later epochs stay in the file as an abandoned branch), and the run's own config is written
beside it as `rewind-NNNN.toml` so the printed resume command is exact: the trainer compares
the config given on resume with the checkpoint's `config`, and this file is that config. When
best.pt holds an abandoned epoch, it is copied to `best-abandoned-NNNN.pt` first: the resumed
run replaces best.pt at its first best. A run whose trainer is still running is refused: the
rewind holds the run's lock (runwatch/runlock.py) while it writes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from runwatch.atomic import copy_atomic, write_text_atomic
from runwatch.ckpt_tools.edit import write_edit
from runwatch.ckpt_tools.layouts import detect
from runwatch.ckpt_tools.load import LoadedCheckpoint, ensure_unchanged, load_checkpoint
from runwatch.ckpt_tools.plan import EditPlan, EditRequest, plan_loaded
from runwatch.ckpt_tools.write import free_name, names_after, write_checkpoint
from runwatch.errors import RunwatchError
from runwatch.runlock import checkpoint_run_dir, hold_run
from runwatch.stream import StreamWriter, read_stream, split_branches, stream_path


@dataclass
class RewindPlan:
    run_dir: Path
    to_epoch: int
    source: Path
    target: Path
    config_file: Path
    abandoned_epochs: list[int]
    test_acc1: float | None
    edit: EditPlan | None = None
    source_stamp: tuple[int, int, int] = field(default=(), repr=False)
    # best.pt when it holds an abandoned epoch (the resumed run replaces it at its first best),
    # and the name it is kept under.
    abandoned_best: Path | None = None
    abandoned_best_copy: Path | None = None

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("source_stamp", "edit")}
        for key in ("run_dir", "source", "target", "config_file", "abandoned_best",
                    "abandoned_best_copy"):
            out[key] = None if out[key] is None else str(out[key])
        out["edit"] = self.edit.to_dict() if self.edit else None
        return out


@dataclass
class RewindResult:
    checkpoint: Path
    resume_command: str
    event: dict


def _epoch_file(run_dir: Path, epoch: int) -> Path:
    return run_dir / "checkpoints" / f"epoch-{epoch:04d}.pt"


def _checkpoint_for(run_dir: Path, epoch: int) -> Path | None:
    """The epoch's own file, else best.pt/last.pt when they hold that epoch."""
    own = _epoch_file(run_dir, epoch)
    if own.is_file():
        return own
    for name in ("best.pt", "last.pt"):
        p = run_dir / "checkpoints" / name
        if p.is_file() and detect(load_checkpoint(p)).epochs_done == epoch:
            return p
    return None


def plan_rewind(run_dir: str | Path, to: str | int = "best",
                request: EditRequest | None = None) -> RewindPlan:
    """Choose the checkpoint to rewind to (best live test_acc1, or epoch `to`); writes nothing.

    A dry run may plan on a live run, whose trainer replaces best.pt/last.pt and prunes old
    epoch files: when the checkpoints changed while they were read, it chooses again.
    """
    run = Path(run_dir)
    for _ in range(2):
        before = _checkpoint_files(run)
        try:
            return _plan_rewind(run, to, request)
        except RunwatchError:
            if _checkpoint_files(run) == before:
                raise
    return _plan_rewind(run, to, request)


def _checkpoint_files(run: Path) -> set[tuple[str, int, int]]:
    """(name, inode, mtime) of every checkpoint file: changes when a trainer writes."""
    files = set()
    for p in (run / "checkpoints").glob("*.pt"):
        try:
            st = p.stat()
        except OSError:  # removed while listed: a change in itself
            continue
        files.add((p.name, st.st_ino, st.st_mtime_ns))
    return files


def _plan_rewind(run: Path, to: str | int, request: EditRequest | None) -> RewindPlan:
    if not stream_path(run).is_file() or not run.is_dir():
        raise RunwatchError(f"{run} is not a run directory (no metrics.jsonl): pass the "
                            "--run-dir of a runwatch run")
    live = split_branches(read_stream(run)[0]).live
    if not live:
        raise RunwatchError(f"{run}: the stream has no epoch records yet: nothing to rewind to")
    if to == "best":
        scored = [r for r in live if isinstance(r.get("test_acc1"), (int, float))
                  and _checkpoint_for(run, r["epoch"]) is not None]
        if not scored:
            raise RunwatchError(f"{run}: no epoch with test accuracy has a checkpoint left: "
                                "rewind with --to EPOCH")
        record = max(scored, key=lambda r: (r["test_acc1"], -r["epoch"]))
    else:
        epoch = int(to)
        record = next((r for r in live if r["epoch"] == epoch), None)
        if record is None:
            raise RunwatchError(f"{run}: epoch {epoch} is not on the live branch "
                                f"(epochs {live[0]['epoch']}-{live[-1]['epoch']})")
    epoch = int(record["epoch"])
    source = _checkpoint_for(run, epoch)
    if source is None:
        kept = sorted(p.name for p in (run / "checkpoints").glob("epoch-*.pt"))
        raise RunwatchError(f"{run}: no checkpoint of epoch {epoch} is kept (have: "
                            f"{', '.join(kept) or 'none'}); choose one of those with --to")
    loaded = load_checkpoint(source)
    view = detect(loaded)
    if not view.layout.owns_run:
        raise RunwatchError(f"{source} is a {view.layout.name} checkpoint: rewind works on "
                            "runwatch runs; use `runwatch ckpt edit` for other trainers")
    edit = plan_loaded(loaded, request) if request is not None else None
    best = run / "checkpoints" / "best.pt"
    best_epoch = detect(load_checkpoint(best)).epochs_done if best.is_file() else None
    kept_best = best_epoch is not None and best_epoch > epoch
    return RewindPlan(
        run_dir=run, to_epoch=epoch, source=source,
        target=free_name(run / "checkpoints", f"rewind-from-{epoch:04d}", ".pt"),
        config_file=free_name(run, f"rewind-{epoch:04d}", ".toml"),
        abandoned_epochs=[r["epoch"] for r in live if r["epoch"] > epoch],
        test_acc1=record.get("test_acc1"), edit=edit, source_stamp=loaded.stamp,
        abandoned_best=best if kept_best else None,
        abandoned_best_copy=free_name(run / "checkpoints", f"best-abandoned-{best_epoch:04d}",
                                      ".pt") if kept_best else None,
    )


def train_command(config_file: Path, run_dir: Path, checkpoint: Path) -> str:
    return (f"runwatch train --config {shlex.quote(str(config_file))} "
            f"--run-dir {shlex.quote(str(run_dir))} "
            f"--resume-from {shlex.quote(str(checkpoint))}")


def write_run_config(loaded: LoadedCheckpoint, path: Path) -> Path:
    """The run's config as first configured (edits keep it), as TOML the trainer accepts, at
    `path` (a free name: the next free one when another process took it); returns the path."""
    return _write_config(run_config_toml(loaded), path)


def run_config_toml(loaded: LoadedCheckpoint) -> str:
    """The TOML of the run's config, refused before anything is written when there is none."""
    config = detect(loaded).args
    if not isinstance(config, dict):
        raise RunwatchError(f"{loaded.path} holds no config: cannot write the resume config")
    return config_toml(config)


def _write_config(text: str, path: Path) -> Path:
    try:
        return write_text_atomic(path, text, fallbacks=names_after(path))
    except OSError as exc:  # a full disk: the partial file is already gone
        raise RunwatchError(f"cannot write {path} ({exc.strerror or exc}): free space on its "
                            "file system, or write elsewhere") from None


def config_toml(config: dict) -> str:
    """A run config as TOML that tomllib reads back equal; None (TOML has no null) left out."""
    try:
        return tomli_w.dumps(_without_none(config))
    except (TypeError, ValueError) as exc:
        raise RunwatchError(f"the checkpoint's config cannot be written as TOML ({exc}): pass "
                            "--config with your own file") from None


def _without_none(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def edit_resume_command(edited: Path, source: Path) -> str:
    """The exact command that resumes an edited runwatch checkpoint in the source's run: the
    run's config is written beside `edited` (`edited`'s stem + .toml)."""
    config_file = write_run_config(load_checkpoint(edited, check_crc=False),
                                   free_name(edited.parent, edited.stem, ".toml"))
    return train_command(config_file, checkpoint_run_dir(source), edited)


def apply_rewind(plan: RewindPlan) -> RewindResult:
    """Write the resume checkpoint and its config, then append the `rewind` event, holding the
    run (refused while its trainer runs: its records would interleave with the event). A
    planned name another process took meanwhile becomes the next free one (the result says
    which)."""
    with hold_run(plan.run_dir, "rewind"):
        return _apply_rewind(plan)


def _apply_rewind(plan: RewindPlan) -> RewindResult:
    loaded = load_checkpoint(plan.source, check_crc=False)  # the copy checks every CRC
    ensure_unchanged(loaded, plan.source_stamp)
    config_text = run_config_toml(loaded)  # a config TOML cannot hold: refused before writing
    if plan.edit is not None:
        target = write_edit(plan.edit, plan.target, free=True)
    else:
        target = write_checkpoint(loaded, loaded.obj, plan.target, free=True)
    written = [target]
    try:
        config_file = _write_config(config_text, plan.config_file)
        written.append(config_file)
        if plan.abandoned_best is not None:
            copy_atomic(plan.abandoned_best, plan.abandoned_best_copy,
                        fallbacks=names_after(plan.abandoned_best_copy))
    except (OSError, RunwatchError) as exc:
        for path in written:  # only this rewind's own new files: nothing the user had
            path.unlink(missing_ok=True)
        if isinstance(exc, RunwatchError):
            raise
        raise RunwatchError(f"cannot copy {plan.abandoned_best} ({exc.strerror or exc}): the "
                            "rewind wrote nothing; free space on the disk and run it again") \
            from None
    with StreamWriter(stream_path(plan.run_dir)) as writer:
        event = writer.event("rewind", to_epoch=plan.to_epoch, checkpoint=str(target),
                             abandoned_epochs=plan.abandoned_epochs)
    return RewindResult(target, train_command(config_file, plan.run_dir, target), event)
