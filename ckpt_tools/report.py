"""Plain-text reports of inspect, edit plans and diffs (what the CLI prints)."""

from __future__ import annotations

from runwatch.ckpt_tools.diff import CheckpointDiff
from runwatch.ckpt_tools.inspect import CheckpointInfo
from runwatch.ckpt_tools.plan import EditPlan


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def format_info(info: CheckpointInfo) -> str:
    lines = [f"{info.path}: {info.layout} checkpoint ({info.container})"]
    lines.append(f"  epochs done: {info.epochs_done}  global step: {info.global_step}")
    if info.step_in_epoch and info.next_epoch:
        lines.append(f"  stopped inside epoch {info.next_epoch}, after its step "
                     f"{info.step_in_epoch}: a resume finishes that epoch")
    if info.metrics:
        lines.append("  metrics: " + ", ".join(f"{k}={v}" for k, v in info.metrics.items()))
    if info.model:
        m = info.model
        lines.append(f"  model: {m.tensors} tensors, {m.parameters:,} values, {_mb(m.bytes)}, "
                     f"dtypes {m.dtypes}" + (f", key prefixes {m.key_prefixes}"
                                            if m.key_prefixes else ""))
    if info.optimizer:
        o = info.optimizer
        lines.append(f"  optimizer: {o.type}, {o.state_buffers} state buffers "
                     f"({', '.join(o.buffer_names) or 'none'})")
        for i, g in enumerate(o.param_groups):
            lines.append(f"    group {i}: " + ", ".join(f"{k}={v}" for k, v in g.items()))
    if info.scheduler_type:
        lines.append(f"  scheduler: {info.scheduler_type}")
        for key, value in info.scheduler_fields.items():
            lines.append(f"    {key} = {value}")
    if info.next_lrs:
        jumps = {j["epoch"]: j["ratio"] for j in info.jumps}
        lines.append("  next epochs' LR (as the scheduler will produce them):")
        if info.last_lr is not None and info.next_epoch:
            lines.append(f"    epoch {info.next_epoch - 1:>5}: {info.last_lr:.6g}  (last trained)")
        for i, lr in enumerate(info.next_lrs):
            epoch = (info.next_epoch or 1) + i
            mark = f"  <- jump x{jumps[epoch]:.0f}" if epoch in jumps else ""
            lines.append(f"    epoch {epoch:>5}: {lr:.6g}{mark}")
    if info.lr_note:
        lines.append(f"  next LRs: {info.lr_note}")
    return "\n".join(lines)


def format_plan(plan: EditPlan) -> str:
    lines = [f"edit of {plan.source} ({plan.layout}), continuity {plan.mode}"]
    for key, (old, new) in plan.changes.items():
        lines.append(f"  {key}: {old} -> {new}")
    last = f"{plan.last_lr:.6g}" if plan.last_lr is not None else "n/a"
    lines.append(f"  LR of the last epoch trained ({plan.first_epoch - 1}): {last}")
    lines.append(f"  {'epoch':>7}  {'before':>12}  {'after':>12}")
    for i, after in enumerate(plan.lr_after):
        before = f"{plan.lr_before[i]:.6g}" if i < len(plan.lr_before) else ""
        lines.append(f"  {plan.first_epoch + i:>7}  {before:>12}  {after:.6g}".rstrip())
    ratio = f"{plan.jump_ratio:.3g}x" if plan.jump_ratio is not None else "n/a"
    lines.append(f"  first resumed epoch {plan.first_epoch} runs at {plan.lr_after[0]:.6g} "
                 f"({ratio} the last epoch's LR)")
    for warning in plan.warnings:
        lines.append(f"  WARNING: {warning}")
    return "\n".join(lines)


def format_diff(d: CheckpointDiff) -> str:
    if d.same:
        compared = f", {d.tensors_compared} tensors' values equal" if d.tensors_compared else ""
        return f"no differences ({d.layouts[0]} vs {d.layouts[1]}{compared})"
    lines = [f"{d.a} ({d.layouts[0]}) vs {d.b} ({d.layouts[1]})"]
    lines += [f"  only in A: {k}" for k in grouped(d.only_in_a)]
    lines += [f"  only in B: {k}" for k in grouped(d.only_in_b)]
    lines += [f"  {c['key']}: {c['a']} -> {c['b']}" for c in d.changed]
    lines += [f"  values differ: {k}" for k in d.tensor_values_differ]
    if d.tensors_compared:
        lines.append(f"  ({d.tensors_compared} tensors compared by value)")
    return "\n".join(lines)


def grouped(keys: list[str]) -> list[str]:
    """Dotted keys, those under the same list entry (`edits.0.mode`, `edits.0.time`, ...)
    folded into one line `edits.0 (N fields)`."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split(".")
        index = next((i for i, p in enumerate(parts[:-1]) if p.isdigit()), None)
        groups.setdefault(key if index is None else ".".join(parts[:index + 1]), []).append(key)
    return [members[0] if len(members) == 1 else f"{head} ({len(members)} fields)"
            for head, members in groups.items()]
