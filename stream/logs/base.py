"""What every log format module provides (`LogFormat`), what its reader does (`LogReader`),
and the head of a file formats are told apart by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from runwatch.stream.reader import FollowState


class LogReader(Protocol):
    """One log followed: `poll()` -> (new records, reset), as `runwatch.stream.sources`."""

    kind: str  # what was read, for the header ("DeiT log.txt", "CSV (epoch, val_acc)" ...)
    note: str  # which fields were picked and why
    path: Path  # the file read now (a log of several files: the one that decides)

    def poll(self) -> tuple[list[dict], bool]: ...

    def caught_up(self) -> bool: ...


@dataclass(frozen=True)
class ReadOptions:
    """What the user chose: the accuracy field (`--metric`), the LR tag (`--lr-tag`), and
    whether the log is followed live (a live reader holds back what may still change)."""

    metric: str | None = None
    lr_tag: str | None = None
    live: bool = True


class Head:
    """The first bytes of a file: enough for each format to say whether it is theirs."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @cached_property
    def lines(self) -> list[str]:
        """The complete lines (the last piece may be a line still being written)."""
        return self.data.decode("utf-8", "replace").split("\n")[:-1]

    @cached_property
    def text(self) -> list[str]:
        """The complete non-blank lines, stripped."""
        return [line.strip() for line in self.lines if line.strip()]


@dataclass(frozen=True)
class LogFormat:
    """One log format, registered in `runwatch.stream.logs.FORMATS`.

    `sniff(head)` says whether a file is of this format by its content (True, False, or None
    while the head is too short to tell); `open(path, options, state)` follows it;
    `file_names` are the glob patterns a run directory is searched for; `unit(path)` is what
    one log is (the file itself, or the folder a format reads several files of).
    """

    name: str  # for --source
    kind: str
    describes: str  # for "runwatch reads ..."
    file_names: tuple[str, ...]
    sniff: Callable[[Head], bool | None]
    open: Callable[[Path, ReadOptions, FollowState], LogReader]
    unit: Callable[[Path], Path] = lambda path: path
