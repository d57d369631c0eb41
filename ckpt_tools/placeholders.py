"""Placeholders for what torch pickles in data.pkl: tensors, their storages, and the torch names
that rebuild them, never imported.

`TensorRef` remembers exactly how torch pickled a tensor (the rebuild function and its
arguments), so writing it back reproduces torch's bytes; its arguments are checked when it is
made, so a tensor that reads past its storage is refused as the file is read. All three are
immutable, and a `GlobalRef` exists only for torch's tensor and storage names.
"""

from __future__ import annotations

from runwatch.errors import RunwatchError
from runwatch.terminal import printable

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
STORAGE_MODULES = ("torch", "torch.storage")


class _Frozen:
    """An immutable placeholder: set once in `__init__`, never changed; a copy of a tree
    shares it (copy.deepcopy would otherwise rebuild it slot by slot, which immutability
    refuses)."""

    __slots__ = ()

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __copy__(self) -> _Frozen:
        return self

    def __deepcopy__(self, memo: dict) -> _Frozen:
        return self


class GlobalRef(_Frozen):
    """A torch global named in the pickle (never imported): written back as the same GLOBAL.

    Only the names torch uses for tensors and storages can exist; instances cannot be changed.
    """

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        if not is_torch_global(module, name):
            raise RunwatchError(f"refused: {printable(module, 80)}.{printable(name, 80)} is "
                                "not a torch tensor or storage name")
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "name", name)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, GlobalRef) and (self.module, self.name)
                == (other.module, other.name))

    def __hash__(self) -> int:
        return hash((self.module, self.name))

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"GlobalRef({self})"

    @property
    def is_rebuilder(self) -> bool:
        return self.module == "torch._utils"

    def __call__(self, *args: object) -> TensorRef:
        # Only tensor rebuilders are callable; storage classes only appear in persistent ids.
        if not self.is_rebuilder:
            raise RunwatchError(f"refused: {self} is not a tensor rebuild function")
        return TensorRef(self, args)


def is_torch_global(module: object, name: object) -> bool:
    return ((module == "torch._utils" and name in TENSOR_REBUILDERS)
            or (module in STORAGE_MODULES and name in STORAGE_ITEMSIZE))


class StorageRef(_Frozen):
    """One tensor storage: a zip record `data/<key>` of `numel` elements."""

    __slots__ = ("type_ref", "key", "location", "numel")

    def __init__(self, type_ref: GlobalRef, key: str, location: str, numel: int) -> None:
        object.__setattr__(self, "type_ref", type_ref)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "numel", numel)

    @property
    def dtype(self) -> str:
        return STORAGE_DTYPE[self.type_ref.name]

    @property
    def itemsize(self) -> int:
        return STORAGE_ITEMSIZE[self.type_ref.name]

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    def persistent_id(self) -> tuple:
        return ("storage", self.type_ref, self.key, self.location, self.numel)


class TensorRef(_Frozen):
    """A tensor as pickled: the rebuild function and its arguments, checked and kept verbatim."""

    __slots__ = ("rebuild", "args")

    def __init__(self, rebuild: GlobalRef, args: tuple) -> None:
        _check_rebuild_args(rebuild, args)
        object.__setattr__(self, "rebuild", rebuild)
        object.__setattr__(self, "args", args)

    @property
    def base(self) -> TensorRef:
        """The plain tensor under a parameter."""
        inner = self.args[0]
        return inner.base if isinstance(inner, TensorRef) else self

    @property
    def is_parameter(self) -> bool:
        return self.rebuild.name.startswith("_rebuild_parameter")

    @property
    def storage(self) -> StorageRef:
        return self.base.args[0]

    @property
    def offset(self) -> int:
        return self.base.args[1]

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
        return self.numel * self.storage.itemsize

    def __reduce__(self) -> tuple:
        return (self.rebuild, self.args)

    def __repr__(self) -> str:
        return f"TensorRef({self.dtype}, {list(self.shape)})"


def is_int(x: object) -> bool:
    return type(x) is int


def is_count(x: object) -> bool:
    """A plain non-negative int (never a bool, a float or an int subclass)."""
    return is_int(x) and x >= 0


def _int_tuple(x: object) -> bool:
    return (isinstance(x, (tuple, list)) and len(x) <= 64
            and all(is_count(v) for v in x))


def _check_rebuild_args(rebuild: GlobalRef, args: tuple) -> None:
    """Refuse a tensor whose arguments are not what torch writes, or that reads past its
    storage: such a file would crash every reader after us (torch.load included)."""
    bad = RunwatchError(f"refused to load: a {rebuild.name} call with arguments torch never "
                        "writes; the file is damaged or hand-crafted: use another checkpoint")
    if rebuild.name.startswith("_rebuild_parameter"):
        if not (2 <= len(args) <= 4 and isinstance(args[0], TensorRef)
                and isinstance(args[1], bool)):
            raise bad
        return
    if not (4 <= len(args) <= 7 and isinstance(args[0], StorageRef) and is_int(args[1])
            and args[1] >= 0 and _int_tuple(args[2]) and _int_tuple(args[3])
            and len(args[2]) == len(args[3])):
        raise bad
    storage, offset, shape, stride = args[:4]
    if 0 not in shape:
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
        if last >= storage.numel:
            raise RunwatchError(
                f"refused to load: a tensor of shape {list(shape)} reads past its storage "
                f"data/{storage.key} ({storage.numel} elements); the file is damaged: use "
                "another checkpoint")
