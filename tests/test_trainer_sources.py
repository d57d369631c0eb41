"""trainer/sources.py: detection by content, reading every format once, following live."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from trainer.errors import RunwatchError
from trainer.sources import open_source, read_source, sniff
from trainer.stream import StreamWriter

DATA = Path(__file__).parent / "data"
DEIT = DATA / "foreign" / "deit_style_log_txt"
TORCH7 = DATA / "foreign" / "json_stats_log_txt"


def epochs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "epoch"]


@pytest.mark.parametrize(("name", "kind", "first", "last", "note_has"), [
    ("repvit_m0_9_distill_300e.txt", "DeiT log.txt", (1, 0.116), (300, 78.582), "test_acc1"),
    ("cfvit_deits_300ep_log.txt", "DeiT log.txt", (1, 0.548), (300, 65.036),
     "test_384_acc1 (last, highest-resolution stage"),
])
def test_deit_logs_count_epochs_from_one_and_pick_the_last_stage(name, kind, first, last,
                                                                 note_has):
    records, source = read_source(DEIT / name)
    epochs = epochs_of(records)
    assert source.kind == kind and note_has in source.note
    assert len(epochs) == 300 and [r["epoch"] for r in epochs] == list(range(1, 301))
    assert (epochs[0]["epoch"], round(epochs[0]["test_acc1"], 3)) == first
    assert (epochs[-1]["epoch"], round(epochs[-1]["test_acc1"], 3)) == last
    assert records[0]["type"] == "run_start" and records[0]["synthetic"]
    assert records[0]["source"]["kind"] == kind


def test_deit_log_matches_the_curve_parsed_from_it():
    records, _ = read_source(DEIT / "repvit_m1_5_distill_300e.txt")
    curve, _ = read_source(DATA / "curves" / "imagenet_repvit_m1_5_300ep.csv")
    for ours, theirs in zip(epochs_of(records), epochs_of(curve), strict=True):
        assert ours["epoch"] == theirs["epoch"]
        assert ours["test_acc1"] == pytest.approx(theirs["test_acc1"], abs=1e-6)
        assert ours["lr"] == pytest.approx(theirs["lr"], rel=1e-6)
        assert ours["test_loss"] == pytest.approx(theirs["test_loss"], rel=1e-6)


def test_json_stats_logs_read_epochs_times_and_the_step_plan():
    records, source = read_source(TORCH7 / "wide-resnet_log.txt")
    epochs = epochs_of(records)
    assert source.kind == "Torch7 json_stats log"
    assert len(epochs) == 200 and epochs[0]["epoch"] == 1 and epochs[-1]["epoch"] == 200
    assert epochs[0]["test_acc1"] == 58.57 and epochs[-1]["test_acc1"] == 94.89
    assert epochs[0]["train_loss"] == pytest.approx(1.3907951, rel=1e-6)
    assert epochs[-1]["epoch_time_s"] == pytest.approx(289.156 + 16.763, abs=0.01)
    assert source.state.bad_lines == 0  # the options table and model print are not records
    run_start = records[0]
    assert run_start["epochs"] == 200
    assert run_start["lr_schedule"] == pytest.approx([r["lr"] for r in epochs], rel=1e-9)


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "curves").glob("*.csv")))
def test_every_real_curve_reads_as_a_csv_in_percent(name):
    records, source = read_source(DATA / "curves" / name)
    epochs = epochs_of(records)
    assert source.kind == "CSV (epoch, test_acc1)"
    assert epochs[0]["epoch"] == 1
    assert [r["epoch"] for r in epochs] == list(range(1, len(epochs) + 1))
    assert max(r["test_acc1"] for r in epochs) > 60  # percent, not rescaled
    assert "fraction" not in source.note


def test_seed_run_directory_is_detected_by_its_csv():
    records, source = read_source(DATA / "seed_run")
    epochs = epochs_of(records)
    assert source.path.name == "epochs.csv" and source.kind == "CSV (epoch, test_acc1)"
    assert len(epochs) == 31 and epochs[29]["test_acc1"] == 69.06
    assert epochs[30]["test_acc1"] == 48.55 and epochs[30]["lr"] == 0.05


def test_run_directory_prefers_our_stream_then_known_log_names(tmp_path):
    shutil.copy(DEIT / "repvit_m0_9_distill_300e.txt", tmp_path / "log.txt")
    assert read_source(tmp_path)[1].kind == "DeiT log.txt"
    with StreamWriter(tmp_path / "metrics.jsonl") as w:
        w.write("epoch", epoch=1, test_acc1=5.0)
    records, source = read_source(tmp_path)
    assert source.kind == "runwatch stream" and records[0]["test_acc1"] == 5.0


def test_nested_lightning_version_directory_is_found(tmp_path):
    nested = tmp_path / "lightning_logs" / "version_0"
    nested.mkdir(parents=True)
    (nested / "metrics.csv").write_text("epoch,step,val_acc\n0,3,0.5\n1,7,0.75\n")
    records, source = read_source(tmp_path)
    assert source.kind == "Lightning metrics.csv"
    assert [r["test_acc1"] for r in epochs_of(records)] == [50.0, 75.0]


def test_detection_is_by_content_not_by_name(tmp_path):
    odd = tmp_path / "metrics.jsonl"  # a DeiT log under our stream's name
    shutil.copy(DEIT / "repvit_m0_9_distill_300e.txt", odd)
    assert read_source(odd)[1].kind == "DeiT log.txt"
    assert sniff('{"type": "epoch", "epoch": 1}\n') == "stream"
    assert sniff("epoch,train_loss,eval_loss,eval_top1,eval_top5,lr\n") == "timm"
    assert sniff("epoch,step,val_acc\n") == "lightning"
    assert sniff("epoch,val_acc1\n") == "csv"
    assert sniff('{"epoch": 0, "tes') == "pending"
    assert sniff("hello world\n") is None


def test_stream_metric_override_and_its_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with StreamWriter(path) as w:
        w.write("epoch", epoch=1, test_acc1=5.0, test_acc5=20.0)
    records, source = read_source(path, metric="test_acc5")
    assert records[0]["test_acc1"] == 20.0 and source.kind == "runwatch stream"
    with pytest.raises(RunwatchError, match="'val_top1' is not in this log: use one of.*test_acc5"):
        read_source(path, metric="val_top1")


def test_foreign_metric_override_and_its_error():
    records, source = read_source(DEIT / "cfvit_deits_300ep_log.txt", metric="test_96_acc1")
    assert epochs_of(records)[-1]["test_acc1"] == pytest.approx(64.116, abs=1e-3)
    assert "test_96_acc1 (--metric)" in source.note
    with pytest.raises(RunwatchError, match="use one of.*test_192_acc1"):
        read_source(DEIT / "cfvit_deits_300ep_log.txt", metric="test_acc1")
    records, source = read_source(DATA / "curves" / "imagenet_cfvit_deits_300ep.csv",
                                  metric="acc_stage1")
    assert source.kind == "CSV (epoch, acc_stage1)"
    with pytest.raises(RunwatchError, match="use one of acc_stage1, acc_stage2, epoch"):
        read_source(DATA / "curves" / "imagenet_cfvit_deits_300ep.csv", metric="val_acc")


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "nope.txt", "does not exist"),
    (lambda d: _write(d / "e.csv", ""), "is empty"),
    (lambda d: d, "holds no log runwatch reads: expected runwatch metrics.jsonl"),
    (lambda d: _write(d / "x.txt", "hello\n"), "format not recognised; runwatch reads"),
    (lambda d: _write(d / "x.csv", "step,val_acc\n"), "format not recognised"),
    (lambda d: _write(d / "x.csv", "epoch,loss\n1,2\n"), "no accuracy column.*--metric"),
])
def test_read_source_errors_name_the_problem_and_the_fix(tmp_path, make, message):
    with pytest.raises(RunwatchError, match=message) as err:
        read_source(make(tmp_path))
    assert "\n" not in str(err.value)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_follow_deit_log_appended_in_partial_lines(tmp_path):
    lines = (DEIT / "repvit_m0_9_distill_300e.txt").read_text().splitlines(keepends=True)
    path = tmp_path / "log.txt"
    source = open_source(path)
    assert source.poll() == ([], False) and source.state.missing
    path.write_text(lines[0][:30])
    assert source.poll() == ([], False) and not source.state.missing
    with open(path, "a") as f:
        f.write(lines[0][30:] + lines[1][:10])
    records, reset = source.poll()
    assert not reset and [r["type"] for r in records] == ["run_start", "epoch"]
    with open(path, "a") as f:
        f.write(lines[1][10:] + "garbage {\n" + lines[2])
    records, _ = source.poll()
    assert [r["epoch"] for r in records] == [2, 3]
    assert source.state.bad_lines == 1 and source.state.records == 3
    assert source.poll() == ([], False)


def test_follow_json_stats_from_the_options_table_on(tmp_path):
    text = (TORCH7 / "vgg_log.txt").read_text()
    first_stats = text.index("json_stats:")
    path = tmp_path / "log.txt"
    path.write_text(text[:first_stats])  # options and model printed, no epoch yet
    source = open_source(path)
    assert source.kind == "Torch7 json_stats log"
    assert source.poll() == ([], False)
    with open(path, "a") as f:
        f.write(text[first_stats:])
    records, _ = source.poll()
    assert records[0]["type"] == "run_start" and len(epochs_of(records)) == 200


def test_follow_our_stream_with_nan_and_growth(tmp_path):
    path = tmp_path / "metrics.jsonl"
    source = open_source(tmp_path)
    assert source.poll() == ([], False) and "waiting for a log" in source.note
    with StreamWriter(path) as w:
        w.write("run_start", epochs=3)
        w.write("epoch", epoch=1, test_acc1=float("nan"))
    records, _ = source.poll()
    assert [r["type"] for r in records] == ["run_start", "epoch"]  # no synthetic one added
    assert math.isnan(records[1]["test_acc1"])


def test_file_replaced_underneath_is_a_reset(tmp_path):
    path = tmp_path / "log.txt"
    lines = (DEIT / "repvit_m0_9_distill_300e.txt").read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]))
    source = open_source(path)
    assert len(epochs_of(source.poll()[0])) == 3
    replacement = tmp_path / "new.txt"
    replacement.write_text(lines[0])
    os.replace(replacement, path)
    records, reset = source.poll()
    assert reset and [r["type"] for r in records] == ["run_start", "epoch"]
    assert source.state.resets == 1


def test_csv_rewritten_whole_returns_only_new_rows_or_a_reset(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("epoch,val_acc1,lr\n1,10.0,0.1\n2,20.0,0.1\n")
    source = open_source(path)
    records, reset = source.poll()
    assert not reset and [r["epoch"] for r in epochs_of(records)] == [1, 2]
    assert source.kind == "CSV (epoch, val_acc1)"
    assert source.poll() == ([], False)  # unchanged file: not re-parsed
    path.write_text("epoch,val_acc1,lr\n1,10.0,0.1\n2,20.0,0.1\n3,30.0,0.1\n4,")
    records, reset = source.poll()
    assert not reset and [r["epoch"] for r in records] == [3]  # partial last row waits
    path.write_text("epoch,val_acc1,lr\n1,11.0,0.1\n2,20.0,0.1\n3,30.0,0.1\n")
    records, reset = source.poll()
    assert reset and [r["test_acc1"] for r in epochs_of(records)] == [11.0, 20.0, 30.0]
    assert source.state.resets == 1


def test_csv_nan_rows_do_not_look_like_changes(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("epoch,acc\n1,nan\n")
    source = open_source(path)
    assert math.isnan(epochs_of(source.poll()[0])[0]["test_acc1"])
    with open(path, "a") as f:
        f.write("2,50\nthree,60\n")
    records, reset = source.poll()
    assert not reset and [r["epoch"] for r in records] == [2]
    assert source.state.bad_lines == 1


def test_unrecognised_file_fails_at_open_but_missing_one_waits(tmp_path):
    _write(tmp_path / "x.txt", "hello\n")
    with pytest.raises(RunwatchError, match="not recognised"):
        open_source(tmp_path / "x.txt")
    source = open_source(tmp_path / "later.csv")
    assert source.state.missing and source.poll() == ([], False)
    _write(tmp_path / "later.csv", "epoch,top1\n0,0.5\n")
    records, _ = source.poll()
    assert not source.state.missing
    assert (epochs_of(records)[0]["epoch"], epochs_of(records)[0]["test_acc1"]) == (1, 50.0)
    assert "counts from 0" in source.note and "fractions" in source.note
    assert json.loads(json.dumps(records[0]))["source"]["kind"] == "CSV (epoch, top1)"
