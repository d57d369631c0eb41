"""stream/logs: CSV column choice, fractions, and Lightning's sparse rows."""

from __future__ import annotations

import math

import pytest

from runwatch.errors import RunwatchError
from runwatch.stream.logs.any_csv import csv_table
from runwatch.stream.logs.fields import pick_accuracy_column, pick_lr_column
from runwatch.stream.logs.lightning_csv import lightning_table
from runwatch.stream.logs.tables import read_csv_text


@pytest.mark.parametrize(("columns", "picked"), [
    (["epoch", "val_acc", "train_acc", "lr-SGD"], "val_acc"),
    (["epoch", "val/acc", "train/acc"], "val/acc"),
    (["epoch", "valid_acc5", "valid_acc1"], "valid_acc1"),
    (["epoch", "acc_stage1", "test_acc1", "best_acc1"], "test_acc1"),
    (["epoch", "top1", "val_accuracy"], "val_accuracy"),
    (["epoch", "val_acc_step", "val_acc_epoch"], "val_acc_epoch"),
    (["epoch", "train_acc1", "best_acc1", "loss"], None),
])
def test_accuracy_column_prefers_eval_top1_and_never_train_or_best(columns, picked):
    assert pick_accuracy_column(columns) == picked


def test_top5_and_lr_columns():
    assert pick_accuracy_column(["val_acc1", "val_acc5"], top="5") == "val_acc5"
    assert pick_accuracy_column(["val_acc1"], top="5") is None
    assert pick_lr_column(["lr-SGD-momentum", "lr-SGD", "lr-SGD/pg1"]) == "lr-SGD"
    assert pick_lr_column(["epoch", "learning_rate"]) == "learning_rate"
    assert pick_lr_column(["epoch", "val_acc"]) is None


def test_csv_table_shifts_zero_based_epochs_and_scales_fractions():
    header = ["epoch", "val_acc", "train_acc", "val_loss", "lr"]
    rows = [dict(zip(header, r, strict=True)) for r in
            (["0", "0.5", "0.6", "1.0", "0.1"], ["1", "", "0.7", "nan", "0.1"])]
    table = csv_table(header, rows, None)
    first, second = table.records
    assert (first["epoch"], first["test_acc1"], first["train_acc1"]) == (1, 50.0, 60.0)
    assert second["test_acc1"] is None and math.isnan(second["test_loss"])
    assert "counts from 0" in table.note and "test_acc1, train_acc1 read as fractions" in table.note


def test_csv_table_keeps_percent_and_counts_bad_rows():
    header = ["epoch", "acc"]
    rows = [{"epoch": "1", "acc": "0.4"}, {"epoch": "2", "acc": "12.5"},
            {"epoch": "x", "acc": "1"}]
    table = csv_table(header, rows, None)
    assert [r["test_acc1"] for r in table.records] == [0.4, 12.5] and table.bad_rows == 1


def test_read_csv_text_leaves_out_a_partial_last_line_and_short_rows():
    header, rows, bad = read_csv_text("epoch,acc\n1,5\n2\n3,7\n4,")
    assert header == ["epoch", "acc"] and [r["epoch"] for r in rows] == ["1", "3"] and bad == 1


LIGHTNING = """epoch,lr-SGD,step,train_acc,train_loss_epoch,train_loss_step,val_acc,val_loss
,0.1,0,,,,,
0,,0,,,0.72,,
0,,1,,,0.69,,
0,,1,,,,0.70,0.62
0,,1,0.53,0.68,,,
,0.05,2,,,,,
1,,2,,,0.61,,
1,,3,,,0.59,,
1,,3,,,,0.78,0.58
"""


def test_lightning_rows_merge_per_epoch_with_the_lr_logged_before_them():
    header, rows, _ = read_csv_text(LIGHTNING)
    table = lightning_table(header, rows, None)
    epochs = [r for r in table.records if r["type"] == "epoch"]
    steps = [r for r in table.records if r["type"] == "step"]
    assert [(r["epoch"], r["lr"], r["test_acc1"], r["train_acc1"]) for r in epochs] == [
        (1, 0.1, 70.0, 53.0), (2, 0.05, 78.0, None)]
    assert epochs[0]["train_loss"] == 0.68 and epochs[0]["test_loss"] == 0.62
    assert [(s["epoch"], s["step"], s["global_step"], s["loss"]) for s in steps] == [
        (1, 1, 0, 0.72), (1, 2, 1, 0.69), (2, 1, 2, 0.61), (2, 2, 3, 0.59)]
    assert "test_acc1: val_acc" in table.note and "fractions" in table.note


def test_lightning_live_reading_holds_back_an_epoch_still_missing_its_train_row():
    header, rows, _ = read_csv_text(LIGHTNING)
    live = lightning_table(header, rows, None, settled_only=True)
    assert [r["epoch"] for r in live.records if r["type"] == "epoch"] == [1]
    header, rows, _ = read_csv_text(LIGHTNING + "1,,3,0.8,0.55,,,\n")
    live = lightning_table(header, rows, None, settled_only=True)
    assert [r["epoch"] for r in live.records if r["type"] == "epoch"] == [1, 2]


def test_lightning_metric_override_and_its_error():
    header, rows, _ = read_csv_text(LIGHTNING)
    table = lightning_table(header, rows, "train_acc")
    assert [r["test_acc1"] for r in table.records if r["type"] == "epoch"] == [53.0, None]
    with pytest.raises(RunwatchError, match="use one of epoch, lr-SGD, step"):
        lightning_table(header, rows, "val_top1")


def test_lightning_epoch_without_an_lr_row_has_no_lr():
    text = LIGHTNING.replace(",0.05,2,,,,,\n", "")
    header, rows, _ = read_csv_text(text)
    epochs = [r for r in lightning_table(header, rows, None).records if r["type"] == "epoch"]
    assert [r["lr"] for r in epochs] == [0.1, None]



def test_a_keras_csv_logger_file_reads_with_val_accuracy_in_percent(tmp_path):
    from tiny_fits import keras_fit

    from runwatch.stream.sources import read_source

    keras_fit(tmp_path / "training.log", epochs=4)
    assert read_source(tmp_path)[1].kind == "CSV (epoch, val_accuracy)"  # found in its folder
    rows = (tmp_path / "training.log").read_text().splitlines()
    assert rows[0].startswith("epoch,accuracy")  # as Keras writes it: 0-based, fractions
    records, source = read_source(tmp_path / "training.log")
    epochs = [r for r in records if r["type"] == "epoch"]
    val = [float(row.split(",")[rows[0].split(",").index("val_accuracy")]) for row in rows[1:]]
    assert source.kind == "CSV (epoch, val_accuracy)"
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert [r["test_acc1"] for r in epochs] == pytest.approx([100 * v for v in val])
    assert all(r["train_acc1"] is not None and r["train_acc1"] <= 100 for r in epochs)
    assert "val_accuracy" in source.note and "fractions" in source.note
