"""The oracle: an edit's new state replayed by the real library before anything is written.

The preview of every edit comes from torch-free models (`schedulers.simulate`, timm's and
Hugging Face's schedules as maths). Where torch is installed, the edited scheduler state is
loaded into the real class (torch's, timm's `create_scheduler_v2`, transformers'
`get_scheduler`) on a dummy optimizer with the edited param groups, stepped over the
previewed steps, and every LR compared with the preview: a disagreement means a model is
wrong for this case, and the edit is refused in one line. torch is imported here only, inside
these functions (the checkpoint tools stay torch-free otherwise); without torch the check is
skipped and the plan says so.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import math
import warnings

from runwatch.ckpt_tools.schedulers import Scheduler, parse_scheduler
from runwatch.ckpt_tools.stepping import EDIT_RECORD
from runwatch.errors import RunwatchError

REL_TOL = 1e-9
GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "momentum", "betas", "max_momentum",
              "base_momentum")


def available(module: str = "torch") -> bool:
    return importlib.util.find_spec(module) is not None


def skipped(module: str) -> str:
    return (f"not run: {module} is not installed here (the preview is the torch-free "
            "model's; install it to have edits replayed)")


def compare(got: list[float], want: list[float], who: str) -> str:
    if len(got) != len(want):
        raise RunwatchError(f"the oracle ({who}) ran {len(got)} steps where the preview has "
                            f"{len(want)}: nothing written")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if not math.isclose(g, w, rel_tol=REL_TOL, abs_tol=1e-15):
            raise RunwatchError(f"the oracle ({who}) gives LR {g:.9g} at the {i + 1}th resumed "
                                f"step where the preview says {w:.9g}: this scheduler's model is "
                                "wrong here, so the edit is refused; nothing written")
    return f"{who} replayed the edited state over {len(got)} steps: the same LRs"


def _refused(exc: Exception, who: str) -> RunwatchError:
    """The real library cannot step what the preview stepped: the two do not agree."""
    return RunwatchError(f"the oracle ({who}) cannot replay this scheduler state "
                         f"({type(exc).__name__}: {str(exc)[:80]}): nothing written")


TORCH_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, RuntimeError,
                AttributeError)


def _optimizer(groups: list[dict], adam: bool):
    import torch

    params = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in groups]
    opt = torch.optim.Adam(params, lr=1.0) if adam else \
        torch.optim.SGD(params, lr=1.0, momentum=0.9)
    return opt


def _set_groups(opt, groups: list[dict]) -> None:
    for mine, fields in zip(opt.param_groups, groups, strict=True):
        for key in GROUP_KEYS:
            if key in fields:
                mine[key] = fields[key]


def _build(s: Scheduler, opt):
    """A torch scheduler of `s`'s class on `opt` (its settings come from load_state_dict)."""
    from torch.optim import lr_scheduler as L

    f = s.fields
    simple = {
        "StepLR": lambda: L.StepLR(opt, step_size=1),
        "MultiStepLR": lambda: L.MultiStepLR(opt, milestones=[1]),
        "ExponentialLR": lambda: L.ExponentialLR(opt, gamma=0.5),
        "PolynomialLR": lambda: L.PolynomialLR(opt, total_iters=1),
        "ConstantLR": lambda: L.ConstantLR(opt, factor=0.5, total_iters=1),
        "LinearLR": lambda: L.LinearLR(opt, start_factor=0.5, total_iters=1),
        "CosineAnnealingLR": lambda: L.CosineAnnealingLR(opt, T_max=1),
        "CosineAnnealingWarmRestarts": lambda: L.CosineAnnealingWarmRestarts(opt, T_0=1),
    }
    if s.kind in simple:
        return simple[s.kind]()
    if s.kind == "OneCycleLR":
        return L.OneCycleLR(opt, max_lr=1.0, total_steps=f["total_steps"],
                            three_phase=len(f["_schedule_phases"]) == 3,
                            cycle_momentum=f["cycle_momentum"])
    if s.kind == "CyclicLR":
        return L.CyclicLR(opt, base_lr=0.1, max_lr=1.0, cycle_momentum=f["cycle_momentum"])
    children = [_build(c, opt) for c in s.children]
    if s.kind == "SequentialLR":
        return L.SequentialLR(opt, children, milestones=list(f["_milestones"]))
    if s.kind == "ChainedScheduler":
        return L.ChainedScheduler(children, optimizer=opt)
    raise RunwatchError(f"the oracle cannot build a {s.kind}")


def _uses_betas(s: Scheduler) -> bool:
    return bool(s.fields.get("use_beta1")) or any(_uses_betas(c) for c in s.children)


def replay(state: dict, groups: list[dict], count: int, path: tuple = ("lr_scheduler",)
           ) -> list[float]:
    """The first group's LR of `count` steps of torch's own scheduler loaded with `state`."""
    sched_state = parse_scheduler(state, path)
    opt = _optimizer(groups, _uses_betas(sched_state))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = _build(sched_state, opt)
            _set_groups(opt, groups)
            sched.load_state_dict(copy.deepcopy(state))
            out = []
            for _ in range(count):
                out.append(float(opt.param_groups[0]["lr"]))
                opt.step()
                sched.step()
    except TORCH_ERRORS as exc:
        raise _refused(exc, "torch") from None
    return out


def check_plan(view, plan) -> str:
    """Replay a stored torch scheduler's edited state (with the record the file will keep)."""
    if plan.new_scheduler is None:
        return ""
    if not available():
        return skipped("torch")
    import torch

    state = dict(plan.new_scheduler)
    if plan.new_record is not None:
        state[EDIT_RECORD] = dict(plan.new_record)
    got = replay(state, plan.new_groups, len(plan.steps_after), view.scheduler.path)
    return compare(got, plan.steps_after, f"torch {torch.__version__}")


def check_timm(view, plan) -> str:
    """timm's own scheduler, rebuilt from the edited args as its train.py does on resume."""
    if not (available() and available("timm")):
        return skipped("timm" if available() else "torch")
    import timm
    from timm.scheduler import create_scheduler_v2, scheduler_kwargs

    stored = vars(view.args) if isinstance(view.args, argparse.Namespace) else (
        view.args if isinstance(view.args, dict) else {})
    args = argparse.Namespace(**{str(k): v for k, v in {**stored, **plan.new_args}.items()})
    opt = _optimizer(plan.new_groups, adam=False)
    _set_groups(opt, plan.new_groups)
    done = view.epochs_done
    try:
        sched, _ = create_scheduler_v2(opt, **scheduler_kwargs(args), updates_per_epoch=1)
    except TORCH_ERRORS as exc:
        return (f"not run: timm could not rebuild the scheduler from the stored args "
                f"({type(exc).__name__}: {str(exc)[:80]})")
    _set_groups(opt, plan.new_groups)
    got = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if done > 0:
                sched.step(done)
            for epoch in range(done, done + len(plan.steps_after)):
                got.append(float(opt.param_groups[0]["lr"]))
                sched.step(epoch + 1)
    except TORCH_ERRORS as exc:
        raise _refused(exc, "timm") from None
    return compare(got, plan.steps_after, f"timm {timm.__version__}")


def check_hf(view, plan) -> str:
    """transformers' get_scheduler with the TrainingArguments the plan prints, loaded with the
    edited scheduler.pt, as the Trainer does on resume_from_checkpoint."""
    if not (available() and available("transformers")):
        return skipped("transformers" if available() else "torch")
    import transformers
    from transformers.optimization import get_scheduler

    a = plan.new_args
    opt = _optimizer(plan.new_groups, adam=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = get_scheduler(a["lr_scheduler_type"], opt,
                                  num_warmup_steps=a["warmup_steps"],
                                  num_training_steps=a["max_steps"],
                                  scheduler_specific_kwargs=dict(view.args.lr_scheduler_kwargs))
            _set_groups(opt, plan.new_groups)
            state = {**plan.new_scheduler, EDIT_RECORD: dict(plan.new_record)}
            sched.load_state_dict(copy.deepcopy(state))
            got = []
            for _ in range(len(plan.steps_after)):
                got.append(float(opt.param_groups[0]["lr"]))
                opt.step()
                sched.step()
    except TORCH_ERRORS as exc:
        raise _refused(exc, "transformers") from None
    return compare(got, plan.steps_after, f"transformers {transformers.__version__}")
