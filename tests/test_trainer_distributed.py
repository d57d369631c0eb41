"""DDP on CPU: 2 gloo processes agree on every metric, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.multiprocessing as mp
from trainer_tiny import tiny_config, tiny_dict, write_toml

from runwatch.stream import read_stream
from runwatch.trainer.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_rank(rank: int, world: int, port: int, run_dir: str, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    from runwatch.trainer.train import run

    result = run(tiny_config(train={"epochs": 2}), Path(run_dir))
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(
        {"status": result.status, "record": result.last_record}))


def test_two_gloo_processes_agree_and_only_rank_0_writes(tmp_path):
    run_dir, out_dir = tmp_path / "run", tmp_path / "out"
    out_dir.mkdir()
    mp.spawn(train_rank, args=(2, free_port(), str(run_dir), str(out_dir)), nprocs=2, join=True)
    r0, r1 = (json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["status"] == r1["status"] == "completed"
    clock = {"time", "epoch_time_s", "images_per_s"}
    assert {k: v for k, v in r0["record"].items() if k not in clock} == \
        {k: v for k, v in r1["record"].items() if k not in clock}
    # 64 train images, 8 per step and rank: 4 steps an epoch, every image seen once.
    assert r0["record"]["global_step"] == 8
    records, state = read_stream(run_dir)
    assert state.bad_lines == 0
    assert [r["type"] for r in records].count("run_start") == 1
    assert records[0]["world_size"] == 2
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1, 2]
    assert records[-1]["status"] == "completed"
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert not any(k.startswith("module.") for k in saved["model"])


def test_torchrun_with_one_process_still_joins_a_process_group(monkeypatch):
    # `torchrun --nproc-per-node 1` on one GPU must run the multi-GPU path (NCCL, DDP).
    from runwatch.trainer.distributed import dist_from_env

    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    assert not dist_from_env().enabled
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    assert dist_from_env().enabled and dist_from_env().world_size == 1


def test_torchrun_runs_the_trainer_module(tmp_path):
    config = write_toml(tmp_path / "tiny.toml", tiny_dict(train={"epochs": 1}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(free_port()), "-m", "runwatch.trainer", "--config", str(config),
           "--run-dir", str(tmp_path / "run")]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=240,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    records, _ = read_stream(tmp_path / "run")
    assert [r["type"] for r in records].count("epoch") == 1
    assert records[0]["world_size"] == 2 and records[-1]["status"] == "completed"
    assert out.stdout.count("epoch 1/1") == 1  # rank 0 alone prints
