"""The checkpoint fuzz suite (issue 9, "keep it fixed"): seeded hostile and mutated checkpoints
through the public API (ckpt_harness) and the CLI; no traceback, no code run, memory under a
fixed budget, no hang, every output torch.load(weights_only=True) reads.

`python -m pytest tests/fuzz -s` prints the counts table; `python bench/fuzz_counts.py
--scale 3` runs a larger sample of the same generators.

Failures in the upper layer of ckpt_tools (layouts, planning, rewind), owned elsewhere, are
listed in PENDING: they are counted in the table as "pending", and each entry must still happen
(remove it once fixed), so the list shrinks and nothing new hides behind it; the file-format
layer may have none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ckpt_harness
import pytest
from ckpt_corpus import KINDS, corpus, seed_cases
from ckpt_harness import (
    Driver,
    Finding,
    count_table,
    findings_table,
    findings_text,
    signature,
)
from ckpt_hostile import Case
from ckpt_mutants import HF_SEED, ZIP_SEEDS

from runwatch.ckpt_tools import inspect_checkpoint

# Upper-layer failures found by this suite, left for the ckpt_tools layouts' owner (issue 9):
# signature -> what triggers it. (The layout rewrite fixed the 14 traceback sites listed here
# before it.)
PENDING: dict[str, str] = {}
# The file-format layer and the CLI's output: nothing of theirs may be pending.
LOWER_LAYER = ("ckpt_tools/load.py", "ckpt_tools/legacy.py", "ckpt_tools/hf_files.py",
               "ckpt_tools/pickled.py", "ckpt_tools/zipfmt.py", "ckpt_tools/zipcheck.py",
               "ckpt_tools/write.py", "ckpt_tools/diff.py", "ckpt_tools/cli.py",
               "ckpt_tools/report.py")
CLI_RSS_BUDGET = 100 << 20  # bytes: a torch-free `ckpt` command peaks near 25 MB


class Fuzz:
    """Runs each kind once per session (the per-kind tests and the summary share the runs)."""

    def __init__(self, work: Path) -> None:
        self.canary = work / "CANARY"
        self.driver = Driver(work, self.canary)
        self.by_kind: dict[str, list] = {}
        self.driver.warm_up(seed_cases())

    def results(self, kind: str) -> list:
        if kind not in self.by_kind:
            start = len(self.driver.results)
            self.driver.run(corpus(self.canary, kinds={kind}))
            self.by_kind[kind] = self.driver.results[start:]
        return self.by_kind[kind]


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory) -> Fuzz:
    return Fuzz(tmp_path_factory.mktemp("fuzz"))


def test_every_seed_is_a_checkpoint_of_its_trainer():
    # Mutants start from real, readable files: each seed inspects as its layout.
    layouts = {name: inspect_checkpoint(path).layout for name, path in ZIP_SEEDS.items()}
    assert layouts == {"runwatch": "runwatch", "torchvision": "torchvision",
                       "lightning": "lightning", "timm": "timm", "tutorial": "hand-written",
                       "state_dict": "state_dict"}
    assert inspect_checkpoint(HF_SEED).layout == "hf-trainer"


@pytest.mark.parametrize("kind", KINDS)
def test_every_input_is_a_success_or_a_one_line_refusal(fuzz, kind):
    results = fuzz.results(kind)
    print(f"\n{count_table(results, PENDING)}")
    assert results
    new = [r for r in results if any(signature(f) not in PENDING for f in r.findings)]
    assert not new, findings_text(new)


def test_the_counts_and_every_pending_failure_still_happens(fuzz):
    results = [r for kind in KINDS for r in fuzz.results(kind)]
    print(f"\n{count_table(results, PENDING)}\n\nfindings:\n{findings_table(results)}")
    seen = {signature(f) for r in results for f in r.findings}
    fixed = sorted(set(PENDING) - seen)
    assert not fixed, f"no longer happen (remove them from PENDING): {fixed}"
    assert not [sig for sig in PENDING if any(f" at {path} in " in sig for path in LOWER_LAYER)]


def _seed_copy(folder: Path) -> Path:
    path = folder / "seed.pth"
    path.write_bytes(ZIP_SEEDS["torchvision"].read_bytes())
    return path


def _one(kind: str, label: str, canary: Path) -> Case:
    return next(c for c in corpus(canary, kinds={kind}) if c.label == label)


@pytest.mark.parametrize("failure", ["hang", "memory", "code ran", "traceback", "escape",
                                     "multi-line error", "bad output"])
def test_the_harness_sees_each_kind_of_failure(failure, tmp_path, monkeypatch):
    # A check that cannot fail proves nothing: make inspect (or edit) misbehave each way.
    canary = tmp_path / "CANARY"

    def misbehave(path):
        from runwatch.errors import RunwatchError

        if failure == "hang":
            while True:
                pass
        if failure == "memory":
            block = bytearray(ckpt_harness.MEMORY_BUDGET + (16 << 20))  # zeroed: resident
            return len(block)
        if failure == "code ran":
            canary.touch()
        if failure == "multi-line error":
            raise RunwatchError("one\ntwo")
        if failure == "traceback":
            raise KeyError("dtype")
        return inspect_checkpoint(path)

    if failure == "hang":
        monkeypatch.setattr(ckpt_harness, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(ckpt_harness, "inspect_checkpoint", misbehave)
    if failure == "escape":
        monkeypatch.setattr(ckpt_harness, "format_info", lambda info: "\x1b]52;c;eA==\x07")
    if failure == "bad output":
        monkeypatch.setattr(ckpt_harness, "write_edit",
                            lambda plan, out: out.write_bytes(b"not a checkpoint") and out)
    result = Driver(tmp_path, canary).drive(Case("test", "the torchvision seed", "torchvision",
                                                 _seed_copy))
    assert failure in {f.problem for f in result.findings}, result.findings
    assert not canary.exists()


def test_a_finding_is_named_without_line_numbers():
    finding = Finding("traceback", "inspect", "KeyError", "ckpt_tools/inspect.py:70 in f")
    assert signature(finding) == "traceback at ckpt_tools/inspect.py in f"
    assert signature(Finding("left behind", "rewind", "x")) == "left behind by rewind"


# A few inputs through the real command, each in a fresh process: exit status 0 or 2, one line
# on stderr and no traceback, nothing unprintable on stdout, peak RSS under a fixed budget, and
# a timeout (a hang fails the test).
CLI_INPUTS = [("payload", "data.pkl: REDUCE os.system"),
              ("payload-legacy", "object pickle: STACK_GLOBAL builtins.exec"),
              ("bomb", "billion laughs in runwatch metrics"),
              ("bomb", "LONG4 of 1 MB (a million-digit int)"),
              ("bomb", "BINUNICODE claiming 4 GB"),
              ("zip", "data.pkl claims 4 GB"),
              ("zip", "escape sequence entry"),
              ("hf", "trainer_state.json 100k-deep array"),
              ("hf", "safetensors header claims 1 GB"),
              ("hf", "trainer_state.json best_metric escape"),
              ("special", "a FIFO")]
PEAK_RSS = ("import json, resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)\n"
            "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss << 10\n"
            "print(json.dumps([p.returncode, p.stdout, p.stderr, rss]))")


@pytest.mark.parametrize("kind,label", CLI_INPUTS, ids=[label for _, label in CLI_INPUTS])
def test_the_cli_on_hostile_inputs(kind, label, tmp_path):
    canary = tmp_path / "CANARY"
    path = _one(kind, label, canary).make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for args in (["inspect", str(path)],
                 ["edit", str(path), "-o", str(tmp_path / "out.pt"), "--lr", "0.1", "--yes"]):
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-m",
                              "runwatch.ckpt_tools", *args], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        code, stdout, stderr, rss = json.loads(out)
        assert code in (0, 2) and "Traceback" not in stderr, stderr
        assert stderr.count("\n") == (code == 2) and "\x1b" not in stdout + stderr
        assert rss < CLI_RSS_BUDGET, f"{args[0]}: peak RSS {rss >> 20} MiB"
    assert not canary.exists()
    assert sorted(os.listdir(tmp_path)) == before  # no output, no partial file
