"""Atomic writes: the target is absent, old or new, whole; a failure leaves no temp file."""

import os
import stat

import pytest

from trainer.atomic import atomic_writer, copy_atomic, write_bytes_atomic, write_text_atomic
from trainer.errors import RunwatchError


def test_a_failed_rename_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    target.write_bytes(b"old")

    def die(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half")
        raise RuntimeError("serialiser failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_new_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "rewind-0030.toml", "a = 1\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "rewind-0030.toml").stat().st_mode)
    assert mode == 0o644
    assert (tmp_path / "rewind-0030.toml").read_text() == "a = 1\n"


def test_copy_atomic_makes_an_equal_separate_file(tmp_path):
    src = tmp_path / "epoch-0003.pt"
    src.write_bytes(bytes(range(256)) * 40_000)
    dst = tmp_path / "last.pt"
    dst.write_bytes(b"older epoch")
    copy_atomic(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert not os.path.samefile(src, dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0003.pt", "last.pt"]


def test_copy_atomic_falls_back_where_the_kernel_cannot_copy(tmp_path, monkeypatch):
    def unsupported(*args):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    src = tmp_path / "a.pt"
    src.write_bytes(b"x" * 100_000)
    copy_atomic(src, tmp_path / "b.pt")
    assert (tmp_path / "b.pt").read_bytes() == src.read_bytes()


def test_a_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    # The OSError of creating the temp file (read-only folder, not a folder) is the user's to
    # fix: a RunwatchError (exit 2, no traceback), not a crash.
    parent = tmp_path / "not-a-folder"
    parent.write_text("x")
    with pytest.raises(RunwatchError, match=r"cannot write .*not-a-folder/last.pt .*: make "):
        write_bytes_atomic(parent / "last.pt", b"new")
    assert parent.read_text() == "x"
