"""Plain-text reports of inspect, edit plans and diffs (what the CLI prints).

Keys, values, names and paths in them come from files: every line of a report has its control
characters escaped (`runwatch.terminal.printable`: an escape sequence is shown, never obeyed by
the terminal; a newline in a value cannot fake a line).
"""

from __future__ import annotations

from runwatch.ckpt_tools.diff import CheckpointDiff
from runwatch.ckpt_tools.inspect import CheckpointInfo
from runwatch.ckpt_tools.plan import EditPlan
from runwatch.terminal import printable_lines


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def format_info(info: CheckpointInfo) -> str:
    lines = [f"{info.path}: {info.layout} checkpoint ({info.container})"]
    lines.append(f"  epochs done: {info.epochs_done}  global step: {info.global_step}")
    lines += [f"  found: {f}" for f in info.found]
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
            lines.append(f"    {key} = {value}"[:300])
    if info.stepping:
        lines.append(f"  stepping: {info.stepping}")
    if info.schedule_source:
        lines.append(f"  on resume, the schedule comes from: {info.schedule_source}")
    lines += _lr_table(info)
    if info.lr_note:
        lines.append(f"  next LRs: {info.lr_note}")
    if info.oracle:
        lines.append(f"  oracle: {info.oracle}")
    return printable_lines(lines)


def _lr_table(info: CheckpointInfo) -> list[str]:
    if not info.next_lrs:
        return []
    by_epoch = info.next_epoch is not None and info.first_step is not None and \
        "rows are the next steps" not in info.lr_note
    unit = "epoch" if by_epoch else "step"
    first = info.next_epoch if by_epoch else (info.first_step or 0) + 1
    key = "epoch" if by_epoch else "step"
    jumps = {j[key]: j["ratio"] for j in info.jumps if j.get(key) is not None}
    lines = [f"  next {unit}s' LR (as the scheduler will produce them):"]
    if info.last_lr is not None:
        lines.append(f"    {unit} {first - 1:>5}: {info.last_lr:.6g}  (last trained)")
    for i, lr in enumerate(info.next_lrs):
        mark = f"  <- jump x{jumps[first + i]:.0f}" if first + i in jumps else ""
        lines.append(f"    {unit} {first + i:>5}: {lr:.6g}{mark}")
    if info.preview_end:
        lines.append(f"    (stops at {info.preview_end})")
    return lines


def format_plan(plan: EditPlan) -> str:
    per = "in its own steps (how many per epoch is not known)" \
        if plan.unit == "scheduler step" else f"once per {plan.unit}"
    lines = [f"edit of {plan.source} ({plan.layout}), continuity {plan.mode}; the "
             f"scheduler steps {per}"]
    for key, (old, new) in plan.changes.items():
        lines.append(f"  {key}: {old} -> {new}")
    by_epoch = plan.first_epoch is not None
    unit = "epoch" if by_epoch else "step"
    first = plan.first_epoch if by_epoch else plan.first_step + 1
    last = f"{plan.last_lr:.6g}" if plan.last_lr is not None else "n/a"
    last_step = plan.unit == "epoch" or not by_epoch
    lines.append(f"  LR of the last {'epoch' if plan.unit == 'epoch' else 'step'} trained "
                 f"({first - 1 if last_step else f'step {plan.first_step}'}): {last}")
    lines.append(f"  {unit:>7}  {'before':>12}  {'after':>12}")
    for i, after in enumerate(plan.lr_after):
        before = f"{plan.lr_before[i]:.6g}" if i < len(plan.lr_before) else ""
        lines.append(f"  {first + i:>7}  {before:>12}  {after:.6g}".rstrip())
    ratio = f"{plan.jump_ratio:.3g}x" if plan.jump_ratio is not None else "n/a"
    lines.append(f"  first resumed {unit} {first} runs at {plan.lr_after[0]:.6g} "
                 f"({ratio} the last {'epoch' if plan.unit == 'epoch' else 'step'}'s LR)")
    for warning in plan.warnings:
        lines.append(f"  WARNING: {warning}")
    if plan.oracle:
        lines.append(f"  oracle: {plan.oracle}")
    return printable_lines(lines)


def format_diff(d: CheckpointDiff) -> str:
    if d.same:
        compared = f", {d.tensors_compared} tensors' values equal" if d.tensors_compared else ""
        return printable_lines([f"no differences ({d.layouts[0]} vs {d.layouts[1]}{compared})"])
    lines = [f"{d.a} ({d.layouts[0]}) vs {d.b} ({d.layouts[1]})"]
    lines += [f"  only in A: {k}" for k in grouped(d.only_in_a)]
    lines += [f"  only in B: {k}" for k in grouped(d.only_in_b)]
    lines += [f"  {c['key']}: {c['a']} -> {c['b']}" for c in d.changed]
    lines += [f"  values differ: {k}" for k in d.tensor_values_differ]
    if d.tensors_compared:
        lines.append(f"  ({d.tensors_compared} tensors compared by value)")
    return printable_lines(lines)


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
