"""The real checkpoints the fuzz suite starts from (ckpt_seeds/, see make_ckpt_seeds.py), read
and written with torch, and one random change at a random key path of their trees."""

from __future__ import annotations

import argparse
import collections
import copy
import math
import pathlib
import random
from collections.abc import Callable
from pathlib import Path

import torch

SEEDS = Path(__file__).resolve().parent / "ckpt_seeds"
RUNWATCH_RUN = SEEDS / "runwatch"
ZIP_SEEDS = {
    "runwatch": RUNWATCH_RUN / "checkpoints" / "epoch-0002.pt",
    "torchvision": SEEDS / "torchvision.pth",
    "lightning": SEEDS / "lightning.ckpt",
    "timm": SEEDS / "timm.pth.tar",
    "tutorial": SEEDS / "tutorial.pt",
    "state_dict": SEEDS / "state_dict.pt",
}
HF_SEED = SEEDS / "hf-checkpoint-6"
LEGACY_SEEDS = {name: SEEDS / "legacy" / path.name for name, path in ZIP_SEEDS.items()}
SAFE = [argparse.Namespace, collections.Counter, collections.OrderedDict, pathlib.PosixPath,
        pathlib.PurePosixPath, complex, set, frozenset, bytearray]


def torch_tree(path: Path) -> object:
    with torch.serialization.safe_globals(SAFE):
        return torch.load(path, map_location="cpu", weights_only=True)


def save_legacy(obj: object, path: Path) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    return path


def save_zip(obj: object, path: Path) -> Path:
    torch.save(obj, path)
    return path


class RunsCode:
    """Pickles as a call of `func(*args)` (what a malicious checkpoint holds)."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def key_paths(obj: object, prefix: tuple = (), out: list | None = None,
              depth: int = 0) -> list[tuple]:
    """Every key path in a tree: dict keys, list/tuple indexes, Namespace attributes."""
    out = [] if out is None else out
    if depth > 30:
        return out
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    elif isinstance(obj, argparse.Namespace):
        items = list(vars(obj).items())
    else:
        return out
    for key, value in items:
        out.append((*prefix, key))
        key_paths(value, (*prefix, key), out, depth + 1)
    return out


def _get(obj: object, key: object) -> object:
    return getattr(obj, key) if isinstance(obj, argparse.Namespace) else obj[key]


def _set_at(tree: object, path: tuple, change: Callable[[object, object], object]) -> object:
    """`tree` with the container holding `path[-1]` replaced by `change(container, key)`'s
    result (tuples are rebuilt; the others are changed in place)."""
    if not path:
        return tree
    parent = tree
    chain = [tree]
    for key in path[:-1]:
        parent = _get(parent, key)
        chain.append(parent)
    new_parent = change(parent, path[-1])
    # Tuples cannot change in place: rebuild them up the chain.
    for depth in range(len(path) - 2, -1, -1):
        holder, key = chain[depth], path[depth]
        if new_parent is _get(holder, key):
            break
        if isinstance(holder, tuple):
            new_parent = (*holder[:key], new_parent, *holder[key + 1:])
        else:
            _assign(holder, key, new_parent)
            break
    return new_parent if len(path) == 1 and isinstance(tree, tuple) else tree


def _assign(holder: object, key: object, value: object) -> None:
    if isinstance(holder, argparse.Namespace):
        setattr(holder, key, value)
    else:
        holder[key] = value


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def wrong_values() -> list[tuple[str, Callable[[], object]]]:
    """Values of every type a weights-only torch file can hold, chosen to be wrong somewhere."""
    return [
        ("None", lambda: None), ("True", lambda: True), ("0", lambda: 0), ("-1", lambda: -1),
        ("2**31", lambda: 2**31), ("2**63-1", lambda: 2**63 - 1), ("-2**63", lambda: -(2**63)),
        ("10**30", lambda: 10**30), ("0.5", lambda: 0.5), ("nan", lambda: math.nan),
        ("inf", lambda: math.inf), ("-inf", lambda: -math.inf), ("1e308", lambda: 1e308),
        ("-0.0", lambda: -0.0), ("''", lambda: ""), ("'abc'", lambda: "abc"),
        ("'3'", lambda: "3"), ("escape string", lambda: "\x1b]52;c;ZXZpbA==\x07\x1b[2J"),
        ("bidi string", lambda: "\u202eevil\u0000"), ("100k string", lambda: "x" * 100_000),
        ("bytes", lambda: b"\x00\xff"), ("[]", lambda: []), ("[1, 'a', None]",
                                                              lambda: [1, "a", None]),
        ("{}", lambda: {}), ("{'k': 1}", lambda: {"k": 1}), ("{1: 2}", lambda: {1: 2}),
        ("(1, 2)", lambda: (1, 2)), ("{1}", lambda: {1}), ("tensor 1.0", lambda: torch.tensor(1.0)),
        ("tensor []", lambda: torch.zeros(0)), ("tensor 2x3", lambda: torch.ones(2, 3)),
        ("tensor nan", lambda: torch.tensor([math.nan])),
        ("int64 tensor", lambda: torch.tensor(5)),
        ("bool tensor", lambda: torch.tensor([True, False])),
        ("Namespace", lambda: argparse.Namespace(x=1)),
        ("OrderedDict", lambda: collections.OrderedDict(a=1)),
        ("Counter", lambda: collections.Counter({3: 2})), ("complex", lambda: complex(1, 2)),
        ("PosixPath", lambda: pathlib.PosixPath("/x")), ("50-deep list", lambda: _nested(50)),
        ("20k ints", lambda: list(range(20_000))),
    ]


def mutate(tree: object, rng: random.Random) -> tuple[object, str]:
    """A copy of `tree` with one change at a random key path; and what was done."""
    tree = copy.deepcopy(tree)
    paths = key_paths(tree)
    path = rng.choice(paths)
    where = ".".join(map(str, path))
    action = rng.random()
    if action < 0.1 and not isinstance(_parent(tree, path), tuple):
        def drop(parent, key):
            if isinstance(parent, argparse.Namespace):
                delattr(parent, key)
            elif isinstance(parent, list):
                del parent[key]
            else:
                del parent[key]
            return parent
        return _set_at(tree, path, drop), f"{where} removed"
    if action < 0.15 and isinstance(_parent(tree, path), dict):
        new_key = rng.choice([1, None, (1, 2), 2.5, "\x1b[31mkey", ""])

        def rekey(parent, key):
            parent[new_key] = parent.pop(key)
            return parent
        return _set_at(tree, path, rekey), f"{where} renamed to {new_key!r}"
    name, make = rng.choice(wrong_values())

    def replace(parent, key):
        if isinstance(parent, tuple):
            return (*parent[:key], make(), *parent[key + 1:])
        _assign(parent, key, make())
        return parent
    return _set_at(tree, path, replace), f"{where} = {name}"


def _parent(tree: object, path: tuple) -> object:
    parent = tree
    for key in path[:-1]:
        parent = _get(parent, key)
    return parent
