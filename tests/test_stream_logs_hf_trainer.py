"""Hugging Face Trainer output directories, written by a real tiny transformers.Trainer run."""

from __future__ import annotations

import json
import shutil

import pytest
from tiny_fits import hf_fit

from runwatch.stream.sources import open_source, read_source


def epochs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "epoch"]


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "out"
    hf_fit(out, epochs=4)
    return out


def test_the_newest_checkpoint_state_is_read_with_fraction_accuracies_as_percent(hf_run):
    state = json.loads((hf_run / "checkpoint-32" / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_accuracy" in e]
    records, source = read_source(hf_run)
    epochs = epochs_of(records)
    assert source.kind == "Hugging Face trainer_state.json (eval_accuracy)"
    assert source.path == hf_run / "checkpoint-32" / "trainer_state.json"
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert [r["test_acc1"] for r in epochs] == pytest.approx([100 * e["eval_accuracy"]
                                                             for e in evals])
    assert [r["test_loss"] for r in epochs] == pytest.approx([e["eval_loss"] for e in evals])
    first_lr = next(e["learning_rate"] for e in state["log_history"] if "learning_rate" in e)
    assert epochs[0]["lr"] == pytest.approx(first_lr)
    assert records[0]["epochs"] == 4 and records[0]["run_id"] == "out"
    steps = [r for r in records if r["type"] == "step"]
    assert len(steps) == 16 and {r["epoch"] for r in steps} == {1, 2, 3, 4}  # every 2 of 32
    assert "fractions" in source.note and "epochs completed" in source.note


def test_a_newer_checkpoint_wins_when_it_appears_and_rotation_is_harmless(hf_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(hf_run / "checkpoint-16", out / "checkpoint-16")
    assert len(epochs_of(read_source(out)[0])) == 2
    source = open_source(out)
    assert len(epochs_of(source.poll()[0])) == 2
    shutil.copytree(hf_run / "checkpoint-32", out / "checkpoint-32")  # the next save, live
    records, reset = source.poll()
    assert not reset and [r["epoch"] for r in epochs_of(records)] == [3, 4]
    shutil.rmtree(out / "checkpoint-16")  # save_total_limit deletes old checkpoints
    assert source.poll() == ([], False) and not source.state.missing


def test_a_state_being_rewritten_waits_for_its_next_version(hf_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(hf_run / "checkpoint-16", out / "checkpoint-16")
    source = open_source(out)
    assert len(epochs_of(source.poll()[0])) == 2
    (out / "checkpoint-32").mkdir()
    full = (hf_run / "checkpoint-32" / "trainer_state.json").read_text()
    (out / "checkpoint-32" / "trainer_state.json").write_text(full[: len(full) // 2])
    assert source.poll() == ([], False)
    (out / "checkpoint-32" / "trainer_state.json").write_text(full)
    assert [r["epoch"] for r in epochs_of(source.poll()[0])] == [3, 4]
