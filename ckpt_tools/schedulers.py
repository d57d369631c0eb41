"""torch's LR schedulers as plain state machines over their stored fields (torch-free).

`parse_scheduler` recognises a scheduler's `state_dict()` by its fields (the class is not
stored), checks every field its `step()` reads and returns a `Scheduler` whose `fields` hold
only checked numbers, strings and lists. `simulate` then answers "which LR will the next steps
really use" exactly as torch 2.x steps it: the first resumed step runs at the optimizer's `lr`,
and each `step()` changes it the way the class does, including the chainable forms
(CosineAnnealingLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR
compute from the optimizer's current LR), SequentialLR's reset of the next scheduler at its
milestone, ChainedScheduler's steps in order, and OneCycleLR/CyclicLR, which read and write
fields of the param groups. Checked step by step against torch (tests/test_ckpt_tools_schedulers.py)
and, on every edit, by the oracle (ckpt_tools/oracle.py).
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from dataclasses import dataclass, field

from runwatch.ckpt_tools import sched_fields
from runwatch.ckpt_tools.tree import KeyPath, is_number, kind_of, numbers, show
from runwatch.errors import RunwatchError
from runwatch.schedule import cosine_value

# Field sets that identify a scheduler's state, most specific first.
SIGNATURES = (
    ("SequentialLR", {"_milestones", "_schedulers"}),
    ("ChainedScheduler", {"_schedulers"}),
    ("ReduceLROnPlateau", {"patience", "cooldown", "num_bad_epochs"}),
    ("OneCycleLR", {"total_steps", "_schedule_phases"}),
    ("CyclicLR", {"max_lrs", "total_size", "step_ratio"}),
    ("CosineAnnealingWarmRestarts", {"T_0", "T_i", "T_cur"}),
    ("CosineAnnealingLR", {"T_max", "eta_min"}),
    ("LinearLR", {"start_factor", "end_factor", "total_iters"}),
    ("PolynomialLR", {"power", "total_iters"}),
    ("ConstantLR", {"factor", "total_iters"}),
    ("StepLR", {"step_size", "gamma"}),
    ("MultiStepLR", {"milestones", "gamma"}),
    ("ExponentialLR", {"gamma", "base_lrs", "last_epoch"}),
)
# Classes recognised but not modelled: their formula is not in their state.
UNMODELLED = (
    ("LambdaLR or MultiplicativeLR", {"lr_lambdas"}),
    ("timm's CosineLRScheduler", {"t_initial", "lr_min", "cycle_mul", "t_in_epochs"}),
    ("timm's TanhLRScheduler", {"t_initial", "lb", "ub", "t_in_epochs"}),
    ("timm's PolyLRScheduler", {"t_initial", "power", "t_in_epochs"}),
    ("timm's StepLRScheduler or MultiStepLRScheduler", {"decay_t", "decay_rate", "t_in_epochs"}),
    ("timm's PlateauLRScheduler", {"lr_scheduler", "t_in_epochs"}),
    ("a timm scheduler", {"param_group_field", "t_in_epochs", "base_values"}),
    ("a custom LRScheduler subclass", {"last_epoch", "base_lrs"}),
)
MODELLED = tuple(name for name, _ in SIGNATURES)


def scheduler_type(state: object) -> str | None:
    """The class a scheduler's state_dict belongs to (or the best name for an unmodelled one),
    None when it is not a scheduler state."""
    if not isinstance(state, dict):
        return None
    keys = set(state)
    for name, fields in SIGNATURES + UNMODELLED:
        if fields <= keys:
            return name
    return None


def is_scheduler_state(x: object) -> bool:
    return scheduler_type(x) is not None


@dataclass
class Scheduler:
    """A scheduler state, checked: `fields` are plain values; `raw` is the dict in the file."""

    kind: str
    path: KeyPath
    raw: dict
    fields: dict
    children: list[Scheduler] = field(default_factory=list)

    @property
    def modelled(self) -> bool:
        return self.kind in MODELLED

    @property
    def position(self) -> int:
        """Steps taken (`last_epoch`; a ChainedScheduler has its children's)."""
        if self.kind == "ChainedScheduler":
            return self.children[0].position
        return self.fields.get("last_epoch", -1)

    def describe(self) -> str:
        if self.children:
            return f"{self.kind}[{', '.join(c.describe() for c in self.children)}]"
        return self.kind


# -- parsing -------------------------------------------------------------------------------

def parse_scheduler(x: object, path: KeyPath) -> Scheduler:
    """The checked scheduler at `path`; RunwatchError naming the first bad field."""
    kind = scheduler_type(x)
    if kind is None:
        raise RunwatchError(f"{show(path)} is {kind_of(x)} that is not a scheduler state")
    if kind not in MODELLED:  # its position and base LRs still read (a LambdaLR's are used)
        base = sched_fields.BASE.items()
        return Scheduler(kind, path, x, {k: check(x[k], (*path, k)) for k, check in base
                                         if k in x})
    fields = {}
    for name, check in sched_fields.FIELDS[kind].items():
        if name not in x:
            raise RunwatchError(f"{show(path)} ({kind}) has no {name!r}: the state is "
                                "incomplete; cannot preview or edit it")
        fields[name] = check(x[name], (*path, name))
    for name, check in sched_fields.OPTIONAL.items():
        if name in x:
            fields[name] = check(x[name], (*path, name))
    if kind == "CyclicLR":
        _check_cyclic(x, path, fields)
    if kind == "OneCycleLR" and fields["cycle_momentum"]:
        fields["use_beta1"] = sched_fields.flag(x.get("use_beta1"), (*path, "use_beta1"))
    children = []
    if kind in ("SequentialLR", "ChainedScheduler"):
        children = _children(x, path, kind)
        if kind == "SequentialLR":
            fields["_milestones"] = _sequence_milestones(x, path, len(children))
    return Scheduler(kind, path, x, fields, children)


def _check_cyclic(x: dict, path: KeyPath, fields: dict) -> None:
    if x.get("_scale_fn_custom") is not None:
        raise RunwatchError(f"{show(path)}: CyclicLR with a custom scale_fn (its function is not "
                            "stored): cannot preview or edit it")
    if fields["total_size"] <= 0 or fields["step_ratio"] >= 1:
        raise RunwatchError(f"{show(path)}: CyclicLR needs total_size > 0 and both step sizes "
                            "above 0")
    if fields["cycle_momentum"]:
        for name in ("base_momentums", "max_momentums"):
            fields[name] = numbers(x.get(name), (*path, name))
        fields["use_beta1"] = sched_fields.flag(x.get("use_beta1"), (*path, "use_beta1"))


def _children(x: dict, path: KeyPath, kind: str) -> list[Scheduler]:
    raw = x["_schedulers"]
    if not isinstance(raw, list) or not raw or len(raw) > 64:
        raise RunwatchError(f"{show((*path, '_schedulers'))} is {kind_of(raw)}, not a list of "
                            "scheduler states")
    children = [parse_scheduler(c, (*path, "_schedulers", i)) for i, c in enumerate(raw)]
    for child in children:
        if child.kind in ("ReduceLROnPlateau", "SequentialLR", "ChainedScheduler") \
                or not child.modelled:
            raise RunwatchError(f"{show(child.path)}: a {child.kind} inside {kind} is not "
                                "supported (cannot preview or edit it)")
    return children


def _sequence_milestones(x: dict, path: KeyPath, n: int) -> list[int]:
    p = (*path, "_milestones")
    raw = x["_milestones"]
    if not isinstance(raw, list) or len(raw) != n - 1:
        raise RunwatchError(f"{show(p)} must list one milestone fewer than the {n} schedulers")
    ms = [sched_fields.count(m, (*p, i)) for i, m in enumerate(raw)]
    if ms != sorted(ms):
        raise RunwatchError(f"{show(p)} = {ms}: milestones must rise")
    return ms


def unsupported(s: Scheduler) -> RunwatchError:
    """The error for a scheduler whose LRs cannot be computed from its state."""
    return RunwatchError(f"cannot compute the LRs of {s.kind} ({show(s.path)}): its formula is "
                         f"not stored in the checkpoint, so it cannot be previewed or edited; "
                         f"supported: {', '.join(MODELLED)}")


# -- stepping --------------------------------------------------------------------------------

CLOSED_FORM = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
               "PolynomialLR", "CosineAnnealingLR")


def power(x: float, n: float) -> float:
    """x ** n, infinite where it overflows (a damaged gamma must not raise)."""
    try:
        out = x ** n
    except (OverflowError, ZeroDivisionError):
        return math.inf
    return out if isinstance(out, float | int) else math.nan  # a complex root: not an LR


def closed_form(kind: str, f: dict, base: float, e: int) -> float:
    """`_get_closed_form_lr` of one group at step `e` (what `_update_lr(e)` uses)."""
    if kind == "CosineAnnealingLR":
        return cosine_value(base, f["eta_min"], e, f["T_max"])
    if kind == "LinearLR":
        a, b, n = f["start_factor"], f["end_factor"], f["total_iters"]
        return base * (a + (b - a) * min(n, e) / n)
    if kind == "ConstantLR":
        return base * (f["factor"] + (e >= f["total_iters"]) * (1 - f["factor"]))
    if kind == "StepLR":
        return base * power(f["gamma"], e // f["step_size"])
    if kind == "MultiStepLR":
        return base * power(f["gamma"], bisect_right(f["milestones"], e))
    if kind == "ExponentialLR":
        return base * power(f["gamma"], e)
    if kind == "PolynomialLR":
        return base * power(1.0 - min(f["total_iters"], e) / f["total_iters"], f["power"])
    raise AssertionError(kind)


def _chainable(kind: str, f: dict, lrs: list[float]) -> list[float]:
    """`get_lr()` of the chainable forms after `last_epoch` was advanced."""
    e = f["last_epoch"]
    if kind == "StepLR":
        return lrs if e == 0 or e % f["step_size"] else [lr * f["gamma"] for lr in lrs]
    if kind == "MultiStepLR":
        count = f["milestones"].count(e)
        return [lr * power(f["gamma"], count) for lr in lrs] if count else lrs
    if kind == "ConstantLR":
        if e == 0:
            return [lr * f["factor"] for lr in lrs]
        return lrs if e != f["total_iters"] else [lr / f["factor"] for lr in lrs]
    if kind == "LinearLR":
        a, b, n = f["start_factor"], f["end_factor"], f["total_iters"]
        if e == 0:
            return [lr * a for lr in lrs]
        if e > n:
            return lrs
        return [lr * (1.0 + (b - a) / (n * a + (e - 1) * (b - a))) for lr in lrs]
    if kind == "ExponentialLR":
        return [lr * f["gamma"] for lr in lrs]
    if kind == "PolynomialLR":
        n = f["total_iters"]
        if e > n:
            return lrs
        factor = power((1.0 - e / n) / (1.0 - (e - 1) / n), f["power"])
        return [lr * factor for lr in lrs]
    t, eta = f["T_max"], f["eta_min"]  # CosineAnnealingLR
    if f.get("_step_count") == 1 and e > 0:
        return [cosine_value(b, eta, e, t) for b in f["base_lrs"]]
    if (e - 1 - t) % (2 * t) == 0:
        return [lr + (b - eta) * (1 - math.cos(math.pi / t)) / 2
                for lr, b in zip(lrs, f["base_lrs"], strict=True)]
    return [(1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
            * (lr - eta) + eta for lr in lrs]


def _anneal(kind: str, start: float, end: float, pct: float) -> float:
    if kind == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _set_momentum(group: dict, value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *tuple(group.get("betas", (0.0, 0.0)))[1:])
    else:
        group["momentum"] = value


def _one_cycle(f: dict, groups: list[dict]) -> list[float]:
    step, out = f["last_epoch"], []
    phases = f["_schedule_phases"]
    for group in groups:
        start = 0.0
        for i, phase in enumerate(phases):
            if step <= phase["end_step"] or i == len(phases) - 1:
                pct = (step - start) / (phase["end_step"] - start)
                out.append(_anneal(f["_anneal_func_type"], _group_value(group, phase["start_lr"]),
                                   _group_value(group, phase["end_lr"]), pct))
                if f["cycle_momentum"]:
                    _set_momentum(group, _anneal(
                        f["_anneal_func_type"], _group_value(group, phase["start_momentum"]),
                        _group_value(group, phase["end_momentum"]), pct), f["use_beta1"])
                break
            start = phase["end_step"]
    return out


def _group_value(group: dict, name: str) -> float:
    value = group.get(name)
    if not is_number(value):
        raise RunwatchError(f"OneCycleLR reads the param group's {name!r}, which the "
                            "optimizer state does not have as a number: cannot preview it")
    return value


def _cyclic(f: dict, groups: list[dict]) -> list[float]:
    e, size, ratio = f["last_epoch"], f["total_size"], f["step_ratio"]
    cycle = math.floor(1 + e / size)
    x = 1.0 + e / size - cycle
    scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    arg = cycle if f["scale_mode"] == "cycle" else e
    mode = f["mode"]
    fn = 1.0 if mode == "triangular" else (1 / power(2.0, arg - 1) if mode == "triangular2"
                                           else power(f["gamma"], arg))
    lrs = [b + (m - b) * scale * fn
           for b, m in zip(f["base_lrs"], f["max_lrs"], strict=True)]
    if f["cycle_momentum"]:
        for group, bm, mm in zip(groups, f["base_momentums"], f["max_momentums"], strict=True):
            _set_momentum(group, mm - (mm - bm) * scale * fn, f["use_beta1"])
    return lrs


def _get_lr(s: Scheduler, lrs: list[float], groups: list[dict]) -> list[float]:
    f = s.fields
    if s.kind == "CosineAnnealingWarmRestarts":
        return [cosine_value(b, f["eta_min"], f["T_cur"], f["T_i"]) for b in f["base_lrs"]]
    if s.kind == "OneCycleLR":
        return _one_cycle(f, groups)
    if s.kind == "CyclicLR":
        return _cyclic(f, groups)
    return _chainable(s.kind, f, lrs)


def _update_lr_at(s: Scheduler, e: int, lrs: list[float], groups: list[dict]) -> list[float]:
    """`_update_lr(e)`: what SequentialLR calls on the next scheduler at its milestone."""
    s.fields["last_epoch"] = e
    if s.kind in CLOSED_FORM:
        return [closed_form(s.kind, s.fields, b, e) for b in s.fields["base_lrs"]]
    return _get_lr(s, lrs, groups)


def _step(s: Scheduler, lrs: list[float], groups: list[dict]) -> list[float]:
    """One `scheduler.step()`; mutates `s` (a copy) and `groups`; the optimizer's new LRs."""
    f = s.fields
    if s.kind == "SequentialLR":
        f["last_epoch"] += 1
        ms = f["_milestones"]
        idx = bisect_right(ms, f["last_epoch"])
        child = s.children[idx]
        if idx > 0 and ms[idx - 1] == f["last_epoch"]:
            return _update_lr_at(child, 0, lrs, groups)
        return _step(child, lrs, groups)
    if s.kind == "ChainedScheduler":
        for child in s.children:
            lrs = _step(child, lrs, groups)
        return lrs
    if s.kind == "CosineAnnealingWarmRestarts":
        f["T_cur"] += 1
        if f["T_cur"] >= f["T_i"]:
            f["T_cur"] %= f["T_i"]
            f["T_i"] *= f["T_mult"]
        f["last_epoch"] += 1
        return _get_lr(s, lrs, groups)
    f["_step_count"] = f.get("_step_count", f["last_epoch"] + 1) + 1
    f["last_epoch"] += 1
    return _get_lr(s, lrs, groups)


def steps_left(s: Scheduler) -> int | None:
    """How many more steps the scheduler can take before it is over (OneCycleLR raises past
    its total_steps; its last planned step is total_steps - 1); None when unbounded."""
    if s.kind == "OneCycleLR":
        return max(s.fields["total_steps"] - 1 - s.fields["last_epoch"], 0)
    if s.kind == "ChainedScheduler":
        bounds = [b for b in (steps_left(c) for c in s.children) if b is not None]
        return min(bounds) if bounds else None
    if s.kind == "SequentialLR":
        ms, e = s.fields["_milestones"], s.fields["last_epoch"]
        idx = bisect_right(ms, e)
        last = s.children[-1]
        if idx == len(ms):
            return steps_left(last)
        if last.kind == "OneCycleLR":
            return ms[-1] - e + last.fields["total_steps"] - 1
    return None


def check_groups(s: Scheduler, groups: int) -> None:
    """Refuse a scheduler whose per-group lists do not match the optimizer's groups."""
    for key in ("base_lrs", "max_lrs", "min_lrs", "base_momentums", "max_momentums"):
        values = s.fields.get(key)
        if values is not None and len(values) != groups:
            raise RunwatchError(f"{show((*s.path, key))} has {len(values)} entries but the "
                                f"optimizer has {groups} param groups: they do not belong "
                                "together")
    for child in s.children:
        check_groups(child, groups)


def simulate(s: Scheduler, groups: list[dict], count: int) -> list[list[float]]:
    """LRs (one list per param group) of the next `count` optimizer steps the scheduler is
    stepped after (fewer when it ends first). `groups` are the param groups' schedule fields
    (`ParamGroup.schedule_fields`): the first step runs at their `lr`."""
    if not s.modelled or s.kind == "ReduceLROnPlateau":
        raise unsupported(s) if not s.modelled else RunwatchError(
            "ReduceLROnPlateau's next LRs depend on the metric it is given")
    check_groups(s, len(groups))
    left = steps_left(s)
    count = count if left is None else min(count, left + 1)
    state = copy.deepcopy(s)
    work = [dict(g) for g in groups]
    lrs = [g["lr"] for g in work]
    out = [lrs]
    try:
        for _ in range(count - 1):
            lrs = [float(x) for x in _step(state, lrs, work)]
            for g, lr in zip(work, lrs, strict=True):
                g["lr"] = lr
            out.append(lrs)
    except (OverflowError, ZeroDivisionError) as exc:
        raise RunwatchError(f"{show(s.path)}: its fields make the LR overflow or divide by zero "
                            f"when stepped ({exc}): the state is damaged") from None
    return out


