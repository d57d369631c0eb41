"""bench/gpu_check.py in its CPU mode: every check that can run on a CPU runs (at toy sizes),
the GPU-only ones say why they are skipped, and none fails. A mistake in the script shows
here, not in the minutes a GPU is lent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.mark.skipif(torch.cuda.is_available(), reason="the GPU mode takes minutes")
def test_gpu_check_runs_on_the_cpu_and_writes_its_table(tmp_path):
    out = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "OUT": str(tmp_path)})
    assert out.returncode == 0, out.stdout[-3000:] + (tmp_path / "gpu_check.log").read_text()
    report = (tmp_path / "gpu_check.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("|")]
    assert table == [line for line in out.stdout.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]

    def results(check: str, setting: str = "") -> list[str]:
        return [r[-1] for r in rows if r[0] == check and setting in r[1]]

    assert not [r for r in rows if r[-1] == "FAIL"]
    assert results("exactness", "deterministic") == ["pass"]
    assert results("exactness", "default") == ["skip"]  # the CPU's kernels are deterministic
    assert results("SIGTERM + resume") == ["pass"]
    assert results("torchrun 1 process", "gloo") == ["pass"]
    for check in ("throughput", "data decode=cpu", "data decode=gpu"):
        assert results(check) == ["info"], check  # measured; goals are judged on a GPU only
    assert results("largest batch") == results("throughput compiled") == ["skip"]
    assert "skipped: needs CUDA" in report
    assert "no CUDA" in report.splitlines()[2]
