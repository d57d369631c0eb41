"""Atomic writes: the target is absent, old or new, whole; a failure leaves no partial file; a
new name is never published over a file another process wrote meanwhile; the partial file a
SIGKILL leaves says what it is and goes at the next run."""

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runwatch import atomic
from runwatch.atomic import (
    AlreadyExists,
    copy_atomic,
    partial_file,
    remove_stale_partials,
    write_bytes_atomic,
    write_text_atomic,
)
from runwatch.errors import RunwatchError

REPO = Path(__file__).resolve().parent.parent


def test_a_failed_rename_leaves_the_old_file_and_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    target.write_bytes(b"old")

    def die(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"new", replace=True)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), partial_file(target) as partial:
        partial.file.write(b"half")
        raise RuntimeError("serialiser failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_replace_is_only_done_when_asked(tmp_path):
    target = tmp_path / "last.pt"
    target.write_bytes(b"epoch 1")
    with pytest.raises(AlreadyExists, match=r"last.pt already exists \(another process wrote "
                                            r"it meanwhile\): choose a new name"):
        write_bytes_atomic(target, b"epoch 2")
    assert target.read_bytes() == b"epoch 1"
    assert write_bytes_atomic(target, b"epoch 2", replace=True) == target
    assert target.read_bytes() == b"epoch 2"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_name_taken_between_the_check_and_the_publish_is_not_replaced(tmp_path):
    out = tmp_path / "out.pt"
    with pytest.raises(AlreadyExists, match="out.pt already exists"), \
            partial_file(out) as partial:
        partial.file.write(b"second edit")
        assert not out.exists()  # the check a caller made: free
        out.write_bytes(b"first edit")  # another edit publishes meanwhile
        partial.publish(out)
    assert out.read_bytes() == b"first edit"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pt"]  # the loser left nothing


def test_a_taken_free_name_moves_on_to_the_next_free_one(tmp_path):
    config = tmp_path / "rewind-0003.toml"
    with partial_file(config) as partial:
        partial.file.write(b"mine")
        config.write_text("another rewind's")
        (tmp_path / "rewind-0003-2.toml").write_text("a third one's")
        written = partial.publish(config, fallbacks=[tmp_path / "rewind-0003-2.toml",
                                                     tmp_path / "rewind-0003-3.toml"])
    assert written == tmp_path / "rewind-0003-3.toml" and written.read_text() == "mine"
    assert config.read_text() == "another rewind's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rewind-0003-2.toml", "rewind-0003-3.toml", "rewind-0003.toml"]


def test_two_writers_racing_on_one_name_one_wins_one_fails(tmp_path):
    # Both have written their bytes and checked that the name is free; then both publish.
    out = tmp_path / "edited.pt"
    ready = threading.Barrier(2)
    outcome = {}

    def edit(data: bytes) -> None:
        try:
            with partial_file(out) as partial:
                partial.file.write(data)
                free = not out.exists()
                ready.wait()
                assert free
                partial.publish(out)
            outcome[data] = "wrote"
        except AlreadyExists:
            outcome[data] = "refused"

    threads = [threading.Thread(target=edit, args=(d,)) for d in (b"edit A", b"edit B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["refused", "wrote"]
    winner = next(d for d, what in outcome.items() if what == "wrote")
    assert out.read_bytes() == winner
    assert [p.name for p in tmp_path.iterdir()] == ["edited.pt"]


def test_without_hard_links_the_publish_renames_without_replacing(tmp_path, monkeypatch):
    # vfat, some FUSE and SMB mounts: os.link fails with EPERM; renameat2(RENAME_NOREPLACE).
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "a.pt"
    assert write_bytes_atomic(target, b"new") == target and target.read_bytes() == b"new"
    with pytest.raises(AlreadyExists):
        write_bytes_atomic(target, b"newer")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


def test_without_hard_links_nor_renameat2_the_write_is_refused(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    class OldLibc:  # a C library without renameat2 (glibc < 2.28, not Linux)
        def __init__(self, *args, **kwargs):
            pass

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(atomic.ctypes, "CDLL", OldLibc)
    with pytest.raises(RunwatchError, match="neither hard links nor RENAME_NOREPLACE"):
        write_bytes_atomic(tmp_path / "a.pt", b"new")
    assert list(tmp_path.iterdir()) == []


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
    copy_atomic(src, dst, replace=True)
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
    # The OSError of creating the partial file (read-only folder, not a folder) is the user's
    # to fix: a RunwatchError (exit 2, no traceback), not a crash.
    parent = tmp_path / "not-a-folder"
    parent.write_text("x")
    with pytest.raises(RunwatchError, match=r"cannot write .*not-a-folder/last.pt .*: make "):
        write_bytes_atomic(parent / "last.pt", b"new")
    assert parent.read_text() == "x"


# A child that writes a partial file, says where, and blocks until it is killed.
BLOCKED_WRITER = """
import sys
from runwatch.atomic import partial_file
with partial_file(sys.argv[1]) as partial:
    partial.file.write(b"x" * 1_000_000)
    partial.file.flush()
    print(partial.path, flush=True)
    sys.stdin.read()
"""


def _blocked_writer(target: Path) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen([sys.executable, "-c", BLOCKED_WRITER, str(target)], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return child, Path(child.stdout.readline().strip())


def test_the_partial_file_of_a_killed_writer_is_visible_and_removed_next_time(tmp_path):
    child, partial = _blocked_writer(tmp_path / "out.pt")
    try:
        assert partial.parent == tmp_path and partial.stat().st_size == 1_000_000
        # A name a user can see (no leading dot) and read: which file, whose, unfinished.
        assert partial.name.startswith(f"out.pt.runwatch-partial-{atomic._host()}-{child.pid}-")
        assert remove_stale_partials(tmp_path) == []  # its writer is alive: not touched
        assert partial.exists()
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert partial.exists()  # a SIGKILL runs no cleanup
        assert remove_stale_partials(tmp_path) == [partial]
        assert list(tmp_path.iterdir()) == []
    finally:
        child.kill()
        child.wait()


def test_stale_partial_cleanup_touches_nothing_but_dead_partials_of_this_host(tmp_path):
    child, dead = _blocked_writer(tmp_path / "epoch-0002.pt")
    child.kill()
    child.wait()
    host = atomic._host()
    keep = {
        "epoch-0001.pt": "a checkpoint",
        f"last.pt.runwatch-partial-{host}-{os.getpid()}-0123abcd": "this process is writing",
        f"last.pt.runwatch-partial-other-host-{child.pid}-0123abcd": "another host's writer",
        f"last.pt.runwatch-partial-{host}-{child.pid}-NOTHEX00": "not our pattern",
        f".last.pt.{child.pid}.0123abcd.tmp": "not ours",
        f"notes.runwatch-partial-{host}-{child.pid}-0123abcd.txt": "not ours either",
    }
    for name, text in keep.items():
        (tmp_path / name).write_text(text)
    (tmp_path / f"best.pt.runwatch-partial-{host}-{child.pid}-0123abcd").mkdir()  # not a file
    assert remove_stale_partials(tmp_path) == [dead]
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()} == keep
    assert remove_stale_partials(tmp_path / "missing") == []


def test_the_host_in_a_partial_name_is_one_the_pattern_reads_back(monkeypatch, tmp_path):
    monkeypatch.setattr(socket, "gethostname", lambda: "gpu-node_7.example.org")
    with partial_file(tmp_path / "a-1.pt") as partial:
        match = atomic._PARTIAL_NAME.fullmatch(partial.path.name)
        assert (match["target"], match["host"], match["pid"]) == (
            "a-1.pt", "gpu-node-7.example.org", str(os.getpid()))
