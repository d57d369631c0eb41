"""What differs between two checkpoints: structure, fields, and (on request) tensor bytes.

Tensor values are compared by streaming both storages' bytes (constant memory), only with
`values=True`; legacy files (real tensors) are compared with torch.equal.
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runwatch.ckpt_tools.layouts import detect
from runwatch.ckpt_tools.load import LoadedCheckpoint, load_checkpoint
from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.ckpt_tools.tree import is_tensor
from runwatch.errors import RunwatchError

CHUNK = 1 << 20


@dataclass
class CheckpointDiff:
    a: str
    b: str
    layouts: list[str]
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)  # {key, a, b}
    tensors_compared: int = 0
    tensor_values_differ: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.only_in_a or self.only_in_b or self.changed or self.tensor_values_differ)

    def to_dict(self) -> dict:
        return asdict(self) | {"same": self.same}


def flatten(obj: object, prefix: str = "") -> dict[str, object]:
    """Leaf values by dotted path; tensors become their (dtype, shape) descriptions."""
    if isinstance(obj, dict) and not is_tensor(obj):
        out: dict[str, object] = {}
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out or {prefix.rstrip("."): {}}
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list)) or is_tensor(v)
                                              for v in obj):
        out = {}
        for i, value in enumerate(obj):
            out.update(flatten(value, f"{prefix}{i}."))
        return out
    if hasattr(obj, "__dict__") and not is_tensor(obj):  # argparse.Namespace
        return flatten(vars(obj), prefix)
    return {prefix.rstrip("."): obj}


def _filled(key: str, mine: dict, theirs: dict) -> bool:
    """Whether `key` is an empty list or dict here whose entries the other side lists (an
    `edits` list that one edit filled): in both, not 'only' in one."""
    value = mine[key]
    if not isinstance(value, (list, tuple, dict)) or value:  # (a tensor has no plain ==)
        return False
    return any(k.startswith(key + ".") for k in theirs)


def _describe(value: object) -> object:
    if is_tensor(value):
        return f"tensor {str(value.dtype).replace('torch.', '')} {list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def _storage_bytes(loaded: LoadedCheckpoint, t: TensorRef, zf: zipfile.ZipFile):
    """Chunks of the bytes that make up tensor `t` (contiguous view of its storage)."""
    item = t.nbytes // max(t.numel, 1) if t.numel else 1
    start, length = t.offset * item, t.nbytes
    with zf.open(loaded.archive.prefix + "data/" + t.storage.key) as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _same_values(la: LoadedCheckpoint, ta: object, lb: LoadedCheckpoint, tb: object,
                 zips: tuple) -> bool:
    if isinstance(ta, TensorRef) and isinstance(tb, TensorRef):
        if ta.nbytes != tb.nbytes or ta.stride != tb.stride:
            return False
        return all(x == y for x, y in zip(_storage_bytes(la, ta, zips[0]),
                                          _storage_bytes(lb, tb, zips[1]), strict=True))
    if isinstance(ta, TensorRef) or isinstance(tb, TensorRef):
        return False  # a zip tensor against a legacy one: reported as differing
    import torch  # both legacy files: real tensors

    return bool(torch.equal(ta, tb))


def diff_checkpoints(a: str | Path, b: str | Path, values: bool = False) -> CheckpointDiff:
    la, lb = load_checkpoint(a), load_checkpoint(b)
    if values and "folder" in (la.container, lb.container):
        # Its tensors come from several files (optimizer.pt, scheduler.pt), none of them `a`.
        raise RunwatchError("diff --values compares the tensors of .pt/.ckpt files; a "
                            "checkpoint folder keeps them in its optimizer and scheduler "
                            "files: diff those files with --values")
    fa, fb = flatten(la.obj), flatten(lb.obj)
    out = CheckpointDiff(str(la.path), str(lb.path),
                         [detect(la).layout.name, detect(lb).layout.name])
    out.only_in_a = sorted(k for k in fa if k not in fb and not _filled(k, fa, fb))
    out.only_in_b = sorted(k for k in fb if k not in fa and not _filled(k, fb, fa))
    pairs = []
    for key in sorted(k for k in fa if k in fb):
        da, db = _describe(fa[key]), _describe(fb[key])
        if da != db:
            out.changed.append({"key": key, "a": da, "b": db})
        elif is_tensor(fa[key]):
            pairs.append(key)
    if values and pairs:
        zips = tuple(zipfile.ZipFile(x.path) if x.container == "zip" else None for x in (la, lb))
        try:
            for key in pairs:
                out.tensors_compared += 1
                if not _same_values(la, fa[key], lb, fb[key], zips):
                    out.tensor_values_differ.append(key)
        finally:
            for z in zips:
                if z is not None:
                    z.close()
    return out
