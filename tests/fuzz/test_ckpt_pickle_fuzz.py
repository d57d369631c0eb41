"""The restricted unpickler and the writer under hypothesis (seeded: the same examples every run).

- any bytes: a tree or a one-line RunwatchError, never another exception or a hang;
- opcode soups (globals on and off the allow-list, calls, BUILD, SETITEM, APPEND, memo):
  the same, no code runs, no allow-listed class changes, and whatever loads is written back
  (or refused) so that our own reader, which accepts only the allow-list, reads it again;
- plain trees: written and read back equal.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import struct

from ckpt_bytes import PROTO, g, s, storage
from ckpt_harness import deadline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runwatch.ckpt_tools import pickled
from runwatch.errors import RunwatchError

SEEDED = settings(max_examples=400, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
GLOBALS = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "getattr"),
           ("subprocess", "Popen"), ("torch", "load"), ("__builtin__", "set"),
           ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
           ("torch", "FloatStorage"), ("collections", "OrderedDict"),
           ("collections", "Counter"), ("argparse", "Namespace"), ("pathlib", "Path"),
           ("pathlib", "PosixPath"), ("builtins", "set"), ("builtins", "frozenset"),
           ("builtins", "bytearray"), ("builtins", "complex"), ("_codecs", "encode")]
# One-byte opcodes: containers, MARK, None/bools, calls, BUILD, fills, tuples, POP, DUP, memo.
OPCODES = [b"}", b"]", b")", b"(", b"N", b"\x88", b"\x89", b"R", b"b", b"s", b"u", b"a", b"e",
           b"t", b"\x85", b"\x86", b"\x87", b"0", b"2", b"1", b"\x81", b"l", b"d", b"Q",
           b"\x94", b"\x8f", b"\x90", b"\x91"]
CHUNKS = st.one_of(
    st.sampled_from(OPCODES),
    st.integers(0, 255).map(lambda n: b"K" + bytes([n])),
    st.integers(-(2**31), 2**31 - 1).map(lambda n: b"J" + struct.pack("<i", n)),
    st.integers(0, 8).map(lambda n: b"q" + bytes([n])),  # BINPUT
    st.integers(0, 8).map(lambda n: b"h" + bytes([n])),  # BINGET
    st.text(max_size=6).map(s),
    st.sampled_from(GLOBALS).map(lambda mn: g(*mn)),
    st.integers(0, 4).map(lambda n: storage(str(n), n)),
)
SOUPS = st.lists(CHUNKS, max_size=40).map(lambda chunks: PROTO + b"".join(chunks) + b".")
PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=40)
CLASSES = [v for v in pickled.SAFE_GLOBALS.values() if isinstance(v, type)]


def _load(data: bytes) -> object | None:
    """The tree, or None after a one-line refusal; anything else fails the test."""
    try:
        with deadline(5):
            return pickled.loads_restricted(data)
    except RunwatchError as exc:
        assert "\n" not in str(exc)
        return None


@SEEDED
@given(st.binary(max_size=2048))
def test_any_bytes_are_a_tree_or_a_one_line_refusal(data):
    _load(data)
    _load(PROTO + data)


@SEEDED
@given(SOUPS)
def test_opcode_soups_run_nothing_change_no_class_and_write_back_only_the_allow_list(data):
    before = {cls: dict(vars(cls)) for cls in CLASSES}
    tree = _load(data)
    assert {cls: dict(vars(cls)) for cls in CLASSES} == before
    if tree is None:
        return
    try:
        written = pickled.dumps_torch(tree)
    except RunwatchError:
        return  # refused to write: nothing off the allow-list leaves
    pickled.loads_restricted(written)  # our reader takes only the allow-list, and takes it


@SEEDED
@given(PLAIN)
def test_plain_trees_are_written_and_read_back_equal(tree):
    assert pickled.loads_restricted(pickled.dumps_torch(tree)) == tree


def test_the_soups_reach_the_checked_opcodes():
    # The strategy must be able to build calls of allow-listed and refused globals.
    assert _load(PROTO + g("collections", "OrderedDict") + b")R.") == collections.OrderedDict()
    assert isinstance(_load(PROTO + g("argparse", "Namespace") + b")R."), argparse.Namespace)
    assert _load(PROTO + g("pathlib", "Path") + s("x") + b"\x85R.") == pathlib.Path("x")
    assert _load(PROTO + g("os", "system") + s("true") + b"\x85R.") is None
