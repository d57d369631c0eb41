"""The two plain files of a Hugging Face Trainer checkpoint folder, read exactly.

`trainer_state.json` must be a JSON object of finite numbers (NaN and Infinity are not JSON,
and no epoch count is infinite), nested no deeper than a checkpoint's tree may be. Of
`model.safetensors` only the header is read (an 8-byte little-endian length, then JSON), never
the weights: it must fit in the file and under safetensors' own 100 MB limit, and map each
tensor name to `{dtype: str, shape: [int >= 0, ...], data_offsets: [begin, end]}` inside the
data that follows, as the safetensors library checks before it reads anything.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from runwatch.ckpt_tools import pickled, placeholders
from runwatch.errors import RunwatchError
from runwatch.terminal import printable

MAX_HEADER = 100_000_000  # bytes: safetensors refuses larger headers
LENGTH = struct.Struct("<Q")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


def _parse(p: Path, raw: bytes, what: str) -> object:
    """JSON of finite numbers, nested no deeper than pickled.MAX_DEPTH."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise RunwatchError(f"{p}: its {what} is nested too deeply to read: the file is damaged "
                            "or crafted") from None
    except ValueError as exc:
        raise RunwatchError(f"{p}: its {what} is not valid JSON ({printable(exc, 80)})"
                            ": the file is damaged") from None
    try:
        pickled.check_tree(value, pickled.node_budget(len(raw)))
    except RunwatchError as exc:
        raise RunwatchError(f"{p}: its {what}: {exc}") from None
    return value


def read_trainer_state(p: Path) -> dict:
    """trainer_state.json as a dict; RunwatchError for anything the HF Trainer never writes."""
    state = _parse(p, p.read_bytes(), "content")
    if not isinstance(state, dict):
        raise RunwatchError(f"{p} holds a JSON {type(state).__name__}, not the object the "
                            "Hugging Face Trainer writes: the file is damaged")
    return state


def read_safetensors_header(p: Path) -> dict:
    """Tensor names -> {dtype, shape, data_offsets} from a .safetensors file's header."""
    size = p.stat().st_size
    with open(p, "rb") as f:
        raw = f.read(LENGTH.size)
        if len(raw) < LENGTH.size:
            raise RunwatchError(f"{p}: truncated safetensors file; use another checkpoint")
        (n,) = LENGTH.unpack(raw)
        if n > min(size - LENGTH.size, MAX_HEADER):
            raise RunwatchError(f"{p}: its header claims {n} bytes; the file has "
                                f"{size - LENGTH.size} after the length (safetensors allows "
                                f"{MAX_HEADER}): the file is truncated or damaged")
        header = _parse(p, f.read(n), "safetensors header")
    if not isinstance(header, dict):
        raise RunwatchError(f"{p}: its safetensors header is a JSON {type(header).__name__}, "
                            "not an object of tensors: the file is damaged")
    header.pop("__metadata__", None)
    data_size = size - LENGTH.size - n
    for name, entry in header.items():
        if not _is_entry(entry, data_size):
            raise RunwatchError(f"{p}: tensor {printable(name, 80)!r} has a header "
                                "entry safetensors never writes (dtype, shape, data_offsets "
                                "inside the file): the file is damaged or crafted")
    return header


def _is_entry(entry: object, data_size: int) -> bool:
    if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)):
        return False
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    return (isinstance(shape, list) and all(placeholders.is_count(d) for d in shape)
            and isinstance(offsets, list) and len(offsets) == 2
            and all(placeholders.is_count(o) for o in offsets)
            and offsets[0] <= offsets[1] <= data_size)
