"""stream/logs/{deit,json_stats,timm}.py: what each line format's fields mean, as pure functions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runwatch.errors import RunwatchError
from runwatch.stream.logs import deit, json_stats, timm
from runwatch.stream.logs.fields import EPOCH_FIELDS

TORCH7 = Path(__file__).parent / "data" / "foreign" / "json_stats_log_txt"


def test_deit_accuracy_key_takes_the_highest_resolution_stage():
    key, note = deit.deit_accuracy_key(["test_96_acc1", "test_384_acc1", "test_192_acc1"])
    assert key == "test_384_acc1" and "test_96_acc1, test_192_acc1, test_384_acc1" in note
    assert "(--metric test_96_acc1 follows another)" in note
    assert deit.deit_accuracy_key(["test_acc1", "test_384_acc1"])[0] == "test_acc1"


def test_deit_line_counts_epochs_from_one_and_keeps_nan():
    parse = deit.DeitLines()
    record = parse('{"epoch": 0, "train_lr": 0.1, "test_acc1": NaN, "test_acc5": 3.0}')
    assert record["epoch"] == 1 and math.isnan(record["test_acc1"])
    assert record["test_acc5"] == 3.0 and record["lr"] == 0.1 and record["test_loss"] is None
    assert set(EPOCH_FIELDS) <= set(record)
    with pytest.raises(ValueError):
        parse('{"loss": 1}')
    with pytest.raises(RunwatchError, match="use one of epoch, test_acc1"):
        deit.DeitLines(metric="val")('{"epoch": 0, "test_acc1": 1}')


def test_json_stats_skips_other_lines_and_undoes_the_logged_decay():
    parse = json_stats.JsonStatsLines()
    assert parse("==> online epoch # 3 [batchSize = 128]") is None
    with pytest.raises(ValueError):
        parse("json_stats: {broken")
    lines = [line for line in (TORCH7 / "vgg_log.txt").read_text().splitlines()
             if line.startswith("json_stats:")]
    logged = [json.loads(line[len("json_stats:"):])["lr"] for line in lines]
    plan = json_stats.json_stats_plan(json.loads(lines[0][len("json_stats:"):]))
    assert plan == pytest.approx(logged, rel=1e-9)
    # Starting the log at epoch 61 (already decayed once) still gives the same plan.
    later = json.loads(lines[60][len("json_stats:"):])
    assert json_stats.json_stats_plan(later) == pytest.approx(plan)
    assert json_stats.json_stats_plan({"epoch": 1, "lr": 0.1}) is None


def test_timm_lines_need_their_header():
    parse = timm.TimmLines()
    with pytest.raises(ValueError):
        parse("0,2.0,1.0,50.0,80.0,0.1")
    assert parse("epoch,train_loss,eval_loss,eval_top1,eval_top5,lr") is None
    record = parse("0,2.0,1.0,50.0,80.0,0.1")
    assert (record["epoch"], record["test_acc1"], record["test_loss"]) == (1, 50.0, 1.0)
    with pytest.raises(ValueError):
        parse("1,2.0,1.0")
