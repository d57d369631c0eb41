"""Torch's `data.pkl` without torch: a restricted unpickler and a pickler that writes it back.

Reading runs Python's pure-Python unpickler with every opcode that could call, build or mutate
something replaced by a checked version: a global must be on the allow-list, a call must be one
of the side-effect-free constructors below with arguments of the expected types, BUILD only
fills an `argparse.Namespace` the pickle itself made, APPEND/SETITEM/ADDITEMS only fill the
pickle's own lists, dicts and sets, and integers and nesting are bounded. Tensors become
`TensorRef` placeholders (dtype, shape, stride, storage key, offset, bytes) that remember exactly
how torch pickled them, so `dumps_torch` reproduces torch's opcodes: the `torch._utils._rebuild_*`
calls and the `('storage', torch.XStorage, key, location, numel)` persistent ids that point at
the zip records. The writer emits only allow-listed globals, checked as it writes, whatever the
tree holds: nothing it writes can run code when torch loads it.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import codecs
import collections
import io
import pathlib
import pickle
import re
import struct
import types
from typing import BinaryIO

from runwatch.ckpt_tools.placeholders import (
    GlobalRef,
    StorageRef,
    TensorRef,
    is_int,
    is_torch_global,
)
from runwatch.errors import RunwatchError
from runwatch.terminal import printable

# Bounds that keep a hostile pickle from costing more than its own size: the deepest nesting any
# real checkpoint has is about 10; integers are at most 64-bit in torch's files (an epoch of a
# million digits would hang the first str() of it); a shared object may be referenced from many
# places (tied weights), but a tree that expands to far more nodes than the pickle has bytes is
# a "billion laughs", and every walker of the tree would hang on it.
MAX_DEPTH = 100
MAX_INT_BYTES = 16
MAX_NODES_PER_BYTE = 8
MIN_NODE_BUDGET = 100_000
STORAGE_KEY = re.compile(r"[0-9A-Za-z_]{1,64}")
LOCATION = re.compile(r"[0-9A-Za-z_:.\-]{1,64}")


def _codecs_encode(text: object, encoding: object = "utf-8") -> bytes:
    """How protocol 2 pickles `bytes`: `_codecs.encode(str, 'latin1')`; nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RunwatchError("refused: _codecs.encode used with unexpected arguments")
    return text.encode("latin1")


def _only(kind: type | tuple[type, ...], what: str):
    """A constructor that accepts at most one argument, of the given kind (never an int count,
    which would let a 40-byte pickle ask `bytearray` for gigabytes)."""
    def check(cls: type, args: tuple) -> None:
        if len(args) > 1 or (args and not isinstance(args[0], kind)):
            raise RunwatchError(f"refused: {cls.__name__} built from {what}")
    return check


def _numbers(cls: type, args: tuple) -> None:
    if len(args) > 2 or not all(type(a) in (int, float) for a in args):
        raise RunwatchError("refused: complex built from something other than numbers")


def _strings(cls: type, args: tuple) -> None:
    if not all(isinstance(a, str) for a in args):
        raise RunwatchError(f"refused: {cls.__name__} built from something other than strings")


# Callables a checkpoint may name, each harmless to call with the arguments its check allows.
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
CALL_CHECKS = {
    collections.OrderedDict: _only((list, tuple), "something other than a list of pairs"),
    collections.Counter: _only(dict, "something other than a dict"),
    set: _only((list, tuple), "something other than a list"),
    frozenset: _only((list, tuple), "something other than a list"),
    bytearray: _only((bytes, str), "something other than bytes"),
    complex: _numbers,
    pathlib.PosixPath: _strings,
    pathlib.PurePosixPath: _strings,
    pathlib.PureWindowsPath: _strings,
    pathlib.Path: _strings,
}
BUILDABLE = (argparse.Namespace, collections.OrderedDict)
# What the pickle may fill in place: only containers it made itself, never a class.
FILLABLE = {
    "append": (list,),
    "setitem": (dict, collections.OrderedDict, collections.Counter),
    "additems": (set,),
}


def refusal(what: str) -> RunwatchError:
    return RunwatchError(f"refused to load: {what} (a checkpoint of plain tensors and dicts "
                         "never does that; it could run code or exhaust memory)")


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickles torch's data.pkl; refuses anything that is not plain data or a tensor."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes | BinaryIO) -> None:
        super().__init__(io.BytesIO(data) if isinstance(data, bytes) else data)
        self._storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str) -> object:
        if self.proto < 3:  # protocol 2 names builtins `__builtin__`, as torch.save writes
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        safe = SAFE_GLOBALS.get((module, name))
        if safe is not None:
            return safe
        if is_torch_global(module, name):
            return GlobalRef(module, name)
        raise RunwatchError(
            f"refused to load: the checkpoint names the global {printable(module, 80)}."
            f"{printable(name, 80)}, which is not on the allow-list (it could run code); "
            "re-save it with plain tensors and dicts"
        )

    def persistent_load(self, pid: object) -> StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], GlobalRef) and not pid[1].is_rebuilder
                and isinstance(pid[2], str) and STORAGE_KEY.fullmatch(pid[2])
                and isinstance(pid[3], str) and LOCATION.fullmatch(pid[3])
                and is_int(pid[4]) and 0 <= pid[4] < 1 << 62):
            raise refusal(f"an unknown persistent id {printable(pid, 80)}")
        _, type_ref, key, location, numel = pid
        known = self._storages.get(key)
        if known is None:
            known = self._storages[key] = StorageRef(type_ref, key, location, numel)
        elif (known.type_ref, known.numel) != (type_ref, numel):
            raise refusal(f"storage data/{key} is described twice, differently")
        return known

    @property
    def storages(self) -> dict[str, StorageRef]:
        """Every storage the pickle refers to, by key (each must have its zip record)."""
        return dict(self._storages)

    # -- the opcodes that call, build or mutate, each checked --------------------------------

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not isinstance(args, tuple):
            raise refusal("a call whose arguments are not a tuple")
        if isinstance(func, GlobalRef):
            self.stack[-1] = func(*args)
            return
        if func is _codecs_encode:
            self.stack[-1] = _codecs_encode(*args)
            return
        check = CALL_CHECKS.get(func) if _hashable(func) else None
        if check is None and func not in (argparse.Namespace,):
            raise refusal(f"a call of {printable(getattr(func, '__name__', type(func)), 80)}")
        if check is not None:
            check(func, args)
        elif args:  # Namespace() takes its fields by BUILD, never by position
            raise refusal("argparse.Namespace called with arguments")
        self.stack[-1] = func(*args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        # Protocol 2 pickles a Namespace as NEWOBJ of the class, then BUILD with its fields.
        if cls is not argparse.Namespace or args != ():
            raise refusal(f"an object made with NEWOBJ of {printable(cls, 80)}")
        self.append(argparse.Namespace())

    def load_build(self) -> None:
        """Fields of a Namespace, or the `_metadata` a state_dict OrderedDict carries: set on
        an instance the pickle made, never on a class or through a descriptor."""
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) not in BUILDABLE:
            raise refusal(f"BUILD applied to {printable(type(inst).__name__, 80)} (only an "
                          "argparse.Namespace or OrderedDict takes fields)")
        if not (isinstance(state, dict) and all(type(k) is str for k in state)):
            raise refusal("BUILD given fields that are not a dict of names")
        vars(inst).update(state)

    def _fillable(self, kind: str) -> object:
        target = self.stack[-1]
        if type(target) not in FILLABLE[kind]:
            raise refusal(f"{kind.upper()} applied to {printable(type(target).__name__, 80)}")
        return target

    def load_append(self) -> None:
        value = self.stack.pop()
        self._fillable("append").append(value)

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._fillable("append").extend(items)

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._fillable("setitem")[key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self._fillable("setitem")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def load_additems(self) -> None:
        items = self.pop_mark()
        self._fillable("additems").update(items)

    def load_long1(self) -> None:
        self._load_long(self.read(1)[0])

    def load_long4(self) -> None:
        (n,) = struct.unpack("<i", self.read(4))
        self._load_long(n)

    def _load_long(self, n: int) -> None:
        if not 0 <= n <= MAX_INT_BYTES:
            raise refusal(f"an integer of {n} bytes")
        self.append(pickle.decode_long(self.read(n)))

    def _refused_opcode(self) -> None:
        raise refusal("an opcode torch never writes (INST, OBJ, NEWOBJ_EX, EXT or out-of-band "
                      "buffers)")

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.ADDITEMS[0]] = load_additems
    dispatch[pickle.LONG1[0]] = load_long1
    dispatch[pickle.LONG4[0]] = load_long4
    for _op in (pickle.INST, pickle.OBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2,
                pickle.EXT4, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_op[0]] = _refused_opcode
    del _op


def _hashable(x: object) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def check_tree(obj: object, budget: int) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH, that contains itself, or that expands (shared
    references counted at each place they appear) to more than `budget` nodes. Each shared
    object is walked once, so this costs the size of the pickle, not of the expansion."""
    sizes: dict[int, int] = {}  # id -> expanded node count of its subtree, once finished
    keep = []  # the objects behind the ids, alive until the walk ends
    stack: list[tuple[object, int, bool]] = [(obj, 0, False)]
    open_ids: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        children = _children(node)
        if children is None:
            continue
        ident = id(node)
        if done:
            open_ids.discard(ident)
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > budget:
                raise refusal(f"shared references that expand to over {budget} objects")
            sizes[ident] = total
            continue
        if ident in sizes:
            continue
        if ident in open_ids:
            raise refusal("an object that contains itself")
        if depth >= MAX_DEPTH:
            raise refusal(f"nesting deeper than {MAX_DEPTH} levels")
        open_ids.add(ident)
        keep.append(node)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children)


def _children(node: object) -> list | None:
    """The objects a node holds, or None for a leaf."""
    if isinstance(node, dict):
        return [*node.keys(), *node.values()]
    if isinstance(node, (list, tuple, set, frozenset)):
        return list(node)
    if isinstance(node, TensorRef):
        return list(node.args)
    if isinstance(node, argparse.Namespace):
        return list(vars(node).values())
    return None


def node_budget(size: int) -> int:
    """How many nodes the tree of a `size`-byte pickle may expand to (check_tree)."""
    return max(MIN_NODE_BUDGET, MAX_NODES_PER_BYTE * size)


def load_with(unpickler: RestrictedUnpickler, size: int, what: str = "data.pkl") -> object:
    """The next object `unpickler` reads from `what`, a `size`-byte input, its tree checked;
    RunwatchError on anything unsafe, damaged or out of bounds."""
    try:
        obj = unpickler.load()
    except RunwatchError:
        raise
    except RecursionError:
        raise refusal(f"nesting deeper than {MAX_DEPTH} levels") from None
    except Exception as exc:  # any malformed pickle: report it, never a traceback
        raise RunwatchError(
            f"{what} is not a readable pickle ({type(exc).__name__}: "
            f"{printable(exc, 120)}); the file is damaged: use another checkpoint"
        ) from None
    check_tree(obj, node_budget(size))
    return obj


def load_restricted(data: bytes) -> tuple[object, dict[str, StorageRef]]:
    """The object tree of a data.pkl (tensors as TensorRef) and the storages it refers to;
    RunwatchError on anything unsafe, damaged or out of bounds."""
    unpickler = RestrictedUnpickler(data)
    return load_with(unpickler, len(data)), unpickler.storages


def loads_restricted(data: bytes) -> object:
    """The object tree of a data.pkl, tensors as TensorRef; RunwatchError on anything unsafe."""
    return load_restricted(data)[0]


# -- writing --------------------------------------------------------------------------------

# The Python objects the writer may name with a GLOBAL opcode. `codecs.encode` is how protocol 2
# writes bytes; everything else is a class from the read allow-list.
WRITABLE_GLOBALS = frozenset([codecs.encode, *CALL_CHECKS, argparse.Namespace])


class _TorchPickler(pickle._Pickler):
    """Pure-Python pickler that writes GlobalRef as a GLOBAL opcode (torch is never imported)
    and refuses to name any other global that is not on the allow-list."""

    dispatch = dict(pickle._Pickler.dispatch)

    def persistent_id(self, obj: object) -> tuple | None:
        return obj.persistent_id() if type(obj) is StorageRef else None

    def save_global(self, obj: object, name: str | None = None) -> None:
        if not (_hashable(obj) and obj in WRITABLE_GLOBALS):
            raise RunwatchError(
                f"refused to write: the checkpoint would name "
                f"{printable(getattr(obj, '__qualname__', type(obj).__name__), 80)}, which is not "
                "on the allow-list; nothing was written")
        super().save_global(obj, name)

    def _save_global_ref(self, ref: GlobalRef) -> None:
        # Checked again here, not trusted from the reader: only torch's own names are written.
        if type(ref) is not GlobalRef or not is_torch_global(ref.module, ref.name):
            raise RunwatchError("refused to write: a global outside torch's tensor names; "
                                "nothing was written")
        self.write(pickle.GLOBAL + f"{ref.module}\n{ref.name}\n".encode())
        self.memoize(ref)

    def _save_function(self, obj: object) -> None:
        self.save_global(obj)  # pickle's own table calls the unchecked base method

    def _save_bytes(self, obj: bytes) -> None:
        # Protocol 2 writes b"" as a call of `bytes`, which neither reader allows; every other
        # bytes value is a call of codecs.encode, and so is this one.
        self.save_reduce(codecs.encode, (str(obj, "latin1"), "latin1"), obj=obj)

    dispatch[GlobalRef] = _save_global_ref
    dispatch[types.FunctionType] = _save_function
    dispatch[bytes] = _save_bytes


def dumps_torch(obj: object) -> bytes:
    """Pickle protocol 2, as torch.save writes data.pkl."""
    check_tree(obj, MIN_NODE_BUDGET * 100)
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()
