"""A pickle read as inert data: classes named, never imported, called or constructed.

Hugging Face's `training_args.bin` is `torch.save(TrainingArguments)`: a dataclass instance
(NEWOBJ of `transformers.training_args.TrainingArguments`, then BUILD with its fields) whose
fields hold enums (REDUCE of `SchedulerType` with its value) and a few other objects. The
restricted unpickler refuses it (its globals are not plain data); this reader, built on the
same checked opcodes, records each global as a `Named` placeholder and each object as an
`Inert` record of the class name, the arguments it would have been called with and the state
BUILD would have given it. Nothing in the file runs, and nothing it names is imported.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

from runwatch.ckpt_tools import pickled, zipfmt
from runwatch.errors import RunwatchError
from runwatch.terminal import printable


@dataclass(frozen=True)
class Named:
    """A global the pickle names (`module.name`), as text."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


class Inert:
    """An object the pickle would have built: its class's name, the arguments, its state."""

    __slots__ = ("cls", "args", "state")

    def __init__(self, cls: Named, args: tuple) -> None:
        self.cls, self.args, self.state = cls, args, None

    def __repr__(self) -> str:
        return f"<{self.cls} (not constructed)>"

    @property
    def value(self) -> object:
        """An enum member's value (the one argument it was reduced with), else None."""
        return self.args[0] if len(self.args) == 1 else None


class InertUnpickler(pickled.RestrictedUnpickler):
    """The restricted unpickler's checked opcodes, with globals and calls made inert."""

    dispatch = dict(pickled.RestrictedUnpickler.dispatch)

    def find_class(self, module: str, name: str) -> Named:
        if not (isinstance(module, str) and isinstance(name, str)) or len(module + name) > 200:
            raise pickled.refusal("a global with an unreadable name")
        return Named(printable(module, 80), printable(name, 80))

    def persistent_load(self, pid: object) -> object:
        raise pickled.refusal("a tensor in a file that should hold only arguments")

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not isinstance(func, Named) or not isinstance(args, tuple):
            raise pickled.refusal("a call of something that is not a named class")
        self.stack[-1] = Inert(func, args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, Named) or not isinstance(args, tuple):
            raise pickled.refusal("NEWOBJ of something that is not a named class")
        self.append(Inert(cls, args))

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, Inert) or inst.state is not None:
            raise pickled.refusal("BUILD applied to something other than a new object")
        inst.state = state

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.BUILD[0]] = load_build


def read_inert(path: Path) -> object:
    """The object a `torch.save` file holds, as inert records; RunwatchError on anything
    else (a damaged zip, tensors, opcodes no plain pickle uses)."""
    if not zipfmt.is_zip(path):
        raise RunwatchError(f"{path} is not a torch zip file: cannot read it as data")
    archive = zipfmt.open_archive(path)
    data = zipfmt.read_record(archive, archive.pickle_name)
    try:
        return InertUnpickler(data).load()
    except RunwatchError:
        raise
    except RecursionError:
        raise pickled.refusal("nesting deeper than the reader allows") from None
    except Exception as exc:  # a malformed pickle: one line, never a traceback
        raise RunwatchError(f"{path}: not a readable pickle ({type(exc).__name__}); the file is "
                            "damaged") from None
