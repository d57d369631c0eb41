"""Torch's `data.pkl` without torch: a restricted unpickler and a pickler that writes it back.

Reading allows only plain containers, numbers, strings and a short allow-list of globals;
tensors become `TensorRef` placeholders (dtype, shape, stride, storage key, offset, bytes) that
remember exactly how torch pickled them, so `dumps_torch` reproduces torch's opcodes: the
`torch._utils._rebuild_*` calls and the `('storage', torch.XStorage, key, location, numel)`
persistent ids that point at the zip records. Nothing is ever called but the allow-listed,
side-effect-free constructors below.
"""

from __future__ import annotations

import argparse
import collections
import io
import pathlib
import pickle
from dataclasses import dataclass

from trainer.errors import RunwatchError

# Bytes per element of each torch storage type (`torch.<Name>Storage`).
STORAGE_ITEMSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
    "UntypedStorage": 1,
}
STORAGE_DTYPE = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}
TENSOR_REBUILDERS = frozenset(
    {"_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter",
     "_rebuild_parameter_with_state"}
)


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    """How protocol 2 pickles `bytes`: `_codecs.encode(str, 'latin1')`; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RunwatchError("refused: _codecs.encode used with unexpected arguments")
    return text.encode("latin1")


# Classes and functions a checkpoint may name, all harmless to construct.
SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("argparse", "Namespace"): argparse.Namespace,
    ("pathlib", "PosixPath"): pathlib.PosixPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "Path"): pathlib.Path,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
    ("_codecs", "encode"): _codecs_encode,
}


@dataclass(frozen=True)
class GlobalRef:
    """A torch global named in the pickle (never imported): written back as the same GLOBAL."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"

    def __call__(self, *args: object) -> TensorRef:
        # Only tensor rebuilders are callable; storage classes only appear in persistent ids.
        if self.module == "torch._utils" and self.name in TENSOR_REBUILDERS:
            return TensorRef(self, args)
        raise RunwatchError(f"refused: {self} is not a tensor rebuild function")


@dataclass(frozen=True, eq=False)
class StorageRef:
    """One tensor storage: a zip record `data/<key>` of `numel` elements."""

    type_ref: GlobalRef
    key: str
    location: str
    numel: int

    @property
    def dtype(self) -> str:
        return STORAGE_DTYPE.get(self.type_ref.name, self.type_ref.name)

    @property
    def nbytes(self) -> int:
        return self.numel * STORAGE_ITEMSIZE.get(self.type_ref.name, 1)

    def persistent_id(self) -> tuple:
        return ("storage", self.type_ref, self.key, self.location, self.numel)


class TensorRef:
    """A tensor as pickled: the rebuild function and its arguments, kept verbatim."""

    def __init__(self, rebuild: GlobalRef, args: tuple) -> None:
        self.rebuild = rebuild
        self.args = args

    @property
    def base(self) -> TensorRef:
        """The plain tensor under a parameter."""
        inner = self.args[0] if self.args else None
        return inner.base if isinstance(inner, TensorRef) else self

    @property
    def is_parameter(self) -> bool:
        return self.rebuild.name.startswith("_rebuild_parameter")

    @property
    def storage(self) -> StorageRef:
        return self.base.args[0]

    @property
    def offset(self) -> int:
        return int(self.base.args[1])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.base.args[2])

    @property
    def stride(self) -> tuple[int, ...]:
        return tuple(self.base.args[3])

    @property
    def dtype(self) -> str:
        return self.storage.dtype

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * STORAGE_ITEMSIZE.get(self.storage.type_ref.name, 1)

    def __reduce__(self) -> tuple:
        return (self.rebuild, self.args)

    def __repr__(self) -> str:
        return f"TensorRef({self.dtype}, {list(self.shape)})"


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles torch's data.pkl; refuses any global that is not on the allow-list."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str) -> object:
        safe = SAFE_GLOBALS.get((module, name))
        if safe is not None:
            return safe
        if module == "torch._utils" and name in TENSOR_REBUILDERS:
            return GlobalRef(module, name)
        if module in ("torch", "torch.storage") and name in STORAGE_ITEMSIZE:
            return GlobalRef(module, name)
        raise RunwatchError(
            f"refused to load: the checkpoint names the global {module}.{name}, which is not on "
            "the allow-list (it could run code); re-save it with plain tensors and dicts"
        )

    def persistent_load(self, pid: object) -> StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], GlobalRef)):
            raise RunwatchError(f"refused to load: unknown persistent id {pid!r:.80}")
        _, type_ref, key, location, numel = pid
        key = str(key)
        if key not in self._storages:
            self._storages[key] = StorageRef(type_ref, key, str(location), int(numel))
        return self._storages[key]


def loads_restricted(data: bytes) -> object:
    """The object tree of a data.pkl, tensors as TensorRef; RunwatchError on anything unsafe."""
    try:
        return RestrictedUnpickler(data).load()
    except RunwatchError:
        raise
    except Exception as exc:  # any malformed pickle: report it, never a traceback
        raise RunwatchError(
            f"data.pkl is not a readable pickle ({type(exc).__name__}: {exc}); "
            "the file is damaged: use another checkpoint"
        ) from None


class _TorchPickler(pickle._Pickler):
    """Pure-Python pickler that writes GlobalRef as a GLOBAL opcode (torch is never imported)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def persistent_id(self, obj: object) -> tuple | None:
        return obj.persistent_id() if isinstance(obj, StorageRef) else None

    def _save_global_ref(self, ref: GlobalRef) -> None:
        self.write(pickle.GLOBAL + f"{ref.module}\n{ref.name}\n".encode())
        self.memoize(ref)

    dispatch[GlobalRef] = _save_global_ref


def dumps_torch(obj: object) -> bytes:
    """Pickle protocol 2, as torch.save writes data.pkl."""
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()
