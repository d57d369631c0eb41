"""MLflow file stores written by the real mlflow client (no mlflow needed to read them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runwatch.stream.logs.mlflow import run_status
from runwatch.stream.sources import open_source, read_source


def epochs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "epoch"]


@pytest.fixture
def mlflow_client(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3 keeps it, deprecated
    import mlflow

    mlflow.set_tracking_uri(f"file:{tmp_path / 'mlruns'}")
    mlflow.set_experiment("tiny")
    yield mlflow
    if mlflow.active_run():
        mlflow.end_run()


def log_epoch(mlflow, e: int) -> None:
    mlflow.log_metric("lr", 0.1 * 0.5 ** (e // 2), step=e)
    mlflow.log_metric("train/loss", 2 - 0.2 * e, step=e)
    mlflow.log_metric("val/accuracy", 0.3 + 0.08 * e, step=e)


def test_a_run_is_followed_live_and_read_with_its_params(mlflow_client, tmp_path):
    mlflow = mlflow_client
    with mlflow.start_run(run_name="tiny-resnet") as run:
        mlflow.log_params({"epochs": 6, "optimizer": "sgd"})
        for e in range(3):
            log_epoch(mlflow, e)
        run_dir = tmp_path / "mlruns" / run.info.experiment_id / run.info.run_id
        assert run_status(run_dir) == "running"
        source = open_source(tmp_path)  # the project folder: mlruns/EXP/RUN, three down
        first, _ = source.poll()
        assert [r["epoch"] for r in epochs_of(first)] == [1, 2, 3]
        for e in range(3, 6):
            log_epoch(mlflow, e)
        more, reset = source.poll()
        assert not reset and [r["epoch"] for r in epochs_of(more)] == [4, 5, 6]
    assert run_status(run_dir) == "finished"
    records, source = read_source(run_dir)
    epochs = epochs_of(records)
    assert source.kind == "MLflow run (val/accuracy)"
    assert [r["test_acc1"] for r in epochs] == pytest.approx([30, 38, 46, 54, 62, 70])
    assert [r["lr"] for r in epochs] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert epochs[0]["time"] > 1e9  # MLflow's millisecond timestamps, as seconds
    start = records[0]
    assert start["run_id"] == "tiny-resnet" and start["epochs"] == 6
    assert start["config"]["optimizer"] == "sgd"


def test_a_damaged_metric_line_is_skipped_and_counted(mlflow_client, tmp_path):
    mlflow = mlflow_client
    with mlflow.start_run() as run:
        for e in range(2):
            log_epoch(mlflow, e)
    run_dir = tmp_path / "mlruns" / run.info.experiment_id / run.info.run_id
    with open(run_dir / "metrics" / "val" / "accuracy", "a") as f:
        f.write("garbage line\n")
    records, source = read_source(run_dir)
    assert len(epochs_of(records)) == 2 and source.state.bad_lines == 1
    assert source.state.last_reason == "not a val/accuracy value"


def test_reading_needs_no_mlflow():
    code = ("import sys, runwatch.stream.sources; print('mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False"


def test_an_mlruns_folder_of_several_runs_opens_the_run_list(mlflow_client, tmp_path):
    from runwatch.stream.runs import RunScanner, is_folder_of_runs

    mlflow = mlflow_client
    ids = []
    for epochs in (6, 10):
        with mlflow.start_run(run_name=f"run-{epochs}") as run:
            for e in range(epochs):
                log_epoch(mlflow, e)
            ids.append(f"run-{epochs} ({run.info.experiment_id})")  # its name, then where
    assert is_folder_of_runs(tmp_path / "mlruns")  # its experiment folder stands for its runs
    summaries = {s.name: s for s in RunScanner(tmp_path / "mlruns").scan()}
    assert sorted(summaries) == sorted(ids)
    assert sorted(s.epoch for s in summaries.values()) == [6, 10]
    assert all(s.status == "finished" for s in summaries.values())
