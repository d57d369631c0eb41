"""The loaded object tree, parsed at the edge into small typed parts.

A checkpoint is someone else's data: any value may have any type. Everything the checkpoint
tools read from an optimizer state is checked here, once, and a value of the wrong type is a
one-line RunwatchError naming its key path (`optimizer.param_groups[0].lr`); the core works on
`OptimizerState`/`ParamGroup` and never indexes a raw dict it has not checked. The parts keep
a reference to the dicts they came from (`raw`), which an edit writes through.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.errors import RunwatchError
from runwatch.terminal import printable

KeyPath = tuple  # of str and int keys, from the top of the checkpoint

# The group fields schedulers read or write (OneCycleLR and CyclicLR keep theirs in the group).
SCHEDULE_GROUP_FIELDS = ("lr", "initial_lr", "max_lr", "min_lr", "momentum", "betas",
                         "max_momentum", "base_momentum")
SHOWN_GROUP_FIELDS = ("lr", "initial_lr", "momentum", "weight_decay", "nesterov", "betas", "eps",
                      "max_lr", "min_lr")


def show(path: KeyPath) -> str:
    """`optimizer.param_groups[0].lr`: a key path as a user reads it (escaped for a terminal)."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return printable(out or "the checkpoint")


def kind_of(value: object) -> str:
    """What a value is, in a few words, for an error message."""
    if is_tensor(value):
        return "a tensor"
    return f"a {type(value).__name__}"


def is_tensor(x: object) -> bool:
    """A TensorRef (zip reader) or a real torch tensor (legacy loader)."""
    return isinstance(x, TensorRef) or type(x).__name__ in ("Tensor", "Parameter")


def is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def number(value: object, path: KeyPath) -> float:
    if not is_number(value):
        raise RunwatchError(f"{show(path)} is {kind_of(value)}, not a number: this checkpoint "
                            "cannot be read as the scheduler's or optimizer's state")
    return float(value)


def integer(value: object, path: KeyPath) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # CyclicLR stores its sizes as floats
    if not isinstance(value, int) or isinstance(value, bool):
        raise RunwatchError(f"{show(path)} is {kind_of(value)}, not a whole number: this "
                            "checkpoint cannot be read as the scheduler's state")
    if abs(value) > 1 << 53:
        raise RunwatchError(f"{show(path)} = {value} is out of range for a step count")
    return value


def numbers(value: object, path: KeyPath) -> list[float]:
    if not isinstance(value, (list, tuple)):
        raise RunwatchError(f"{show(path)} is {kind_of(value)}, not a list of numbers")
    return [number(v, (*path, i)) for i, v in enumerate(value)]


def mapping(value: object, path: KeyPath) -> dict:
    if not isinstance(value, dict):
        raise RunwatchError(f"{show(path)} is {kind_of(value)}, not a dict")
    return value


def at(obj: object, path: KeyPath) -> object:
    """The value at `path` inside `obj`, None where any step is missing or not a container."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, (list, tuple)) and isinstance(key, int) \
                and -len(obj) <= key < len(obj):
            obj = obj[key]
        elif isinstance(obj, argparse.Namespace) and isinstance(key, str):
            obj = getattr(obj, key, None)
        else:
            return None
    return obj


def plain(value: object, depth: int = 0) -> object:
    """A JSON-friendly copy (Counter -> dict, Namespace -> dict, tensors -> their repr)."""
    if depth > 20:
        return "..."
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, argparse.Namespace):
        return plain(vars(value), depth + 1)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf or nan
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, TensorRef):
        return f"tensor {value.dtype} {list(value.shape)}"
    return repr(value)


@dataclass
class ParamGroup:
    """One optimizer param group: its LRs checked, the rest kept for display."""

    path: KeyPath
    raw: dict
    lr: float | None  # None: a tensor LR (capturable optimizers), shown but not edited
    initial_lr: float | None  # None: no scheduler ever wrapped this optimizer
    params: int
    shown: dict  # JSON-safe fields for the report

    def schedule_fields(self) -> dict:
        """The numeric fields a scheduler reads or writes (for the simulator and the oracle)."""
        out = {}
        for key in SCHEDULE_GROUP_FIELDS:
            value = self.raw.get(key)
            if is_number(value):
                out[key] = float(value)
            elif key == "betas" and isinstance(value, (list, tuple)) and value \
                    and all(is_number(v) for v in value):
                out[key] = tuple(float(v) for v in value)
        return out


@dataclass
class OptimizerState:
    path: KeyPath
    raw: dict
    groups: list[ParamGroup]
    buffers: int
    buffer_names: list[str]
    kind: str

    def lrs(self) -> list[float]:
        """Each group's `lr`; RunwatchError where one is a tensor."""
        out = []
        for g in self.groups:
            if g.lr is None:
                raise RunwatchError(f"{show((*g.path, 'lr'))} is a tensor (a capturable "
                                    "optimizer): its LR cannot be previewed or edited without "
                                    "torch")
            out.append(g.lr)
        return out


def is_optimizer_state(x: object) -> bool:
    """torch's `optimizer.state_dict()`: `state` (a dict) and `param_groups` (dicts with
    `params`), whatever key it is stored under."""
    return (isinstance(x, dict) and isinstance(x.get("state"), dict)
            and isinstance(x.get("param_groups"), list) and bool(x["param_groups"])
            and all(isinstance(g, dict) and "params" in g for g in x["param_groups"]))


def parse_optimizer(x: object, path: KeyPath) -> OptimizerState:
    raw = mapping(x, path)
    groups_raw = raw.get("param_groups")
    if not isinstance(groups_raw, list) or not groups_raw:
        raise RunwatchError(f"{show((*path, 'param_groups'))} is {kind_of(groups_raw)}, not a "
                            "list of param groups: not an optimizer state")
    groups = [_parse_group(g, (*path, "param_groups", i)) for i, g in enumerate(groups_raw)]
    state = raw.get("state")
    state = state if isinstance(state, dict) else {}
    names = sorted({str(k) for s in state.values() if isinstance(s, dict) for k in s})
    buffers = sum(1 for s in state.values() if isinstance(s, dict)
                  for v in s.values() if is_tensor(v))
    return OptimizerState(path, raw, groups, buffers, names, optimizer_kind(groups_raw[0]))


def _parse_group(g: object, path: KeyPath) -> ParamGroup:
    raw = mapping(g, path)
    lr = raw.get("lr")
    if not (is_tensor(lr) or lr is None):
        number(lr, (*path, "lr"))
    initial = raw.get("initial_lr")
    if initial is not None and not is_tensor(initial):
        number(initial, (*path, "initial_lr"))
    params = raw.get("params")
    shown = {k: plain(raw[k]) for k in SHOWN_GROUP_FIELDS if k in raw}
    return ParamGroup(path, raw, lr=float(lr) if is_number(lr) else None,
                      initial_lr=float(initial) if is_number(initial) else None,
                      params=len(params) if isinstance(params, (list, tuple)) else 0,
                      shown=shown)


def optimizer_kind(group: object) -> str:
    """The optimizer class, from the keys torch's optimizers put in their param groups (the
    class itself is not stored). Adam and AdamW have the same keys; torch >= 2.6 records
    `decoupled_weight_decay`, older files do not say which it was."""
    keys = set(group) if isinstance(group, dict) else set()
    if "momentum_decay" in keys:
        return "NAdam"
    if "amsgrad" in keys:
        if "decoupled_weight_decay" not in keys:
            return "Adam-family (Adam or AdamW: the file does not say which)"
        return "AdamW" if group["decoupled_weight_decay"] is True else "Adam"
    for name, fields in (("RAdam", {"betas", "decoupled_weight_decay"}),
                         ("Adamax", {"betas", "capturable"}), ("SGD", {"nesterov", "dampening"}),
                         ("RMSprop", {"alpha", "centered"}),
                         ("Adagrad", {"lr_decay", "initial_accumulator_value"}),
                         ("Adadelta", {"rho"}), ("ASGD", {"lambd", "t0"}), ("Rprop", {"etas"}),
                         ("LBFGS", {"history_size"})):
        if fields <= keys:
            return name
    if "betas" in keys:
        return "Adam-family (the file does not say which)"
    return "unknown (not one of torch.optim's)"


@dataclass
class Hints:
    """What the user told us where the file does not settle it (CLI flags)."""

    epoch_key: str | None = None  # dotted key path of the epoch counter
    scheduler_key: str | None = None  # dotted key path of the scheduler state
    steps_per_epoch: int | None = None  # scheduler steps per epoch (1: stepped per epoch)

    def given(self) -> dict[str, object]:
        """The hints the user gave, by field name."""
        return {name: value for name, value in vars(self).items() if value not in (None, "")}

    def path_of(self, text: str | None) -> KeyPath | None:
        if not text:
            return None
        return tuple(int(p) if p.isdigit() else p for p in text.split("."))
