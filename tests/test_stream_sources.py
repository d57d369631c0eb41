"""stream/sources.py: detection by content, reading every format once, following live."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runwatch.errors import RunwatchError
from runwatch.stream import StreamWriter
from runwatch.stream.sources import open_source, read_source, sniff

DATA = Path(__file__).parent / "data"
DEIT = DATA / "foreign" / "deit_style_log_txt"
TORCH7 = DATA / "foreign" / "json_stats_log_txt"


def epochs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "epoch"]


@pytest.mark.parametrize(("name", "kind", "first", "last", "note_has"), [
    ("repvit_m0_9_distill_300e.txt", "DeiT log.txt", (1, 0.116), (300, 78.582), "test_acc1"),
    ("cfvit_deits_300ep_log.txt", "DeiT log.txt", (1, 0.548), (300, 65.036),
     "test_384_acc1, the last, highest-resolution stage"),
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


def test_run_directory_waits_past_a_trainers_stdout_log(tmp_path):
    _write(tmp_path / "train.log", '{"epoch": 1, "note": "printed by the trainer"}\n')
    source = open_source(tmp_path)
    assert source.poll() == ([], False) and source.state.missing
    with StreamWriter(tmp_path / "metrics.jsonl") as w:
        w.write("epoch", epoch=1, test_acc1=5.0)
    records, _ = source.poll()
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
    assert source.kind == "Torch7 json_stats log" and "accuracy: test_acc" in source.note
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


def test_appended_csv_rows_are_parsed_alone_and_a_rewrite_from_the_start(tmp_path, monkeypatch):
    from runwatch.stream.logs import tables

    parsed: list[int] = []
    real = tables.parse_csv_lines

    def counting(header, lines):
        parsed.append(len(lines))
        return real(header, lines)

    monkeypatch.setattr(tables, "parse_csv_lines", counting)
    path = tmp_path / "metrics.csv"
    rows = "".join(f"{e},{e},0.{e}\n" for e in range(50))
    path.write_text("epoch,step,val_acc\n" + rows)
    source = open_source(path)
    source.poll()
    with open(path, "a") as f:
        f.write("50,50,0.9\n51,51,0.91\n")
    records, reset = source.poll()
    assert not reset and [r["epoch"] for r in epochs_of(records)] == [51, 52]
    assert parsed == [50, 2]
    path.write_text("epoch,step,val_acc\n" + rows.replace("0,0,0.0", "0,0,0.05"))  # rewritten
    records, reset = source.poll()
    assert reset and parsed[-1] == 50 and epochs_of(records)[0]["test_acc1"] == 5.0


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


# --- the real loggers: files written by timm and Lightning themselves ----------------------


def test_timm_summary_written_by_timm_is_followed_row_by_row(tmp_path):
    from timm.utils import update_summary

    path = tmp_path / "summary.csv"
    source = open_source(tmp_path)
    followed: list[dict] = []
    for epoch in range(3):  # timm's train.py counts epochs from 0
        update_summary(epoch, {"loss": 2.0 - epoch / 10},
                       {"loss": 1.5 - epoch / 10, "top1": 40.0 + epoch, "top5": 70.0 + epoch},
                       path, lr=0.1 / (epoch + 1))
        records, reset = source.poll()
        assert not reset
        followed += records
    assert source.kind == "timm summary.csv"
    assert [r["type"] for r in followed] == ["run_start", "epoch", "epoch", "epoch"]
    last = followed[-1]
    assert (last["epoch"], last["test_acc1"], last["test_acc5"]) == (3, 42.0, 72.0)
    assert last["test_loss"] == pytest.approx(1.3) and last["train_loss"] == pytest.approx(1.8)
    assert last["lr"] == pytest.approx(0.1 / 3)
    with open(path, "a") as f:
        f.write("3,1.7,1.2,43.0")  # a row still being written
    assert source.poll() == ([], False)
    with open(path, "a") as f:
        f.write(",73.0,0.025\n")
    assert [r["test_acc1"] for r in source.poll()[0]] == [43.0]
    assert read_source(path, metric="eval_top5")[0][-1]["test_acc1"] == 73.0
    with pytest.raises(RunwatchError, match="use one of epoch, eval_loss, eval_top1"):
        read_source(path, metric="val_acc")


def _fit_lightning(log_dir: Path, lr: float, epochs: int, callbacks: list) -> Path:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def _step(self, batch):
            x, y = batch
            out = self.layer(x)
            acc = (out.argmax(1) == y).float().mean()  # a fraction, as torchmetrics gives
            return torch.nn.functional.cross_entropy(out, y), acc

        def training_step(self, batch, _):
            loss, acc = self._step(batch)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            self.log("train_acc", acc, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            loss, acc = self._step(batch)
            self.log("val_loss", loss)
            self.log("val_acc", acc)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=lr)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)]

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    data = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=16)
    trainer = pl.Trainer(
        max_epochs=epochs, logger=CSVLogger(log_dir, name="tiny", version=0),
        callbacks=[LearningRateMonitor("epoch"), *callbacks], log_every_n_steps=1,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        accelerator="cpu", num_sanity_val_steps=0,
    )
    trainer.fit(Tiny(), data, data)
    return log_dir / "tiny" / "version_0" / "metrics.csv"


def _polling_callback(source, polls: list, headers: set | None = None):
    import lightning.pytorch as pl

    def poll() -> None:
        polls.append(source.poll())
        if headers is not None and source.path is not None:
            headers.add(source.path.read_text().split("\n", 1)[0])

    class PollEveryHook(pl.Callback):
        def on_train_batch_end(self, *_):
            poll()

        def on_validation_end(self, *_):
            poll()

        def on_train_epoch_end(self, *_):
            poll()

    return PollEveryHook()


def _accumulate(polls: list) -> list[dict]:
    kept: list[dict] = []
    for records, reset in polls:
        kept = list(records) if reset else kept + records
    return kept


def test_lightning_csv_logger_is_followed_live_while_it_rewrites_itself(tmp_path):
    source = open_source(tmp_path)  # the run dir: Lightning creates tiny/version_0 later
    polls: list = []
    headers: set[str] = set()
    path = _fit_lightning(tmp_path, 0.1, 3, [_polling_callback(source, polls, headers)])
    polls.append(source.poll())
    whole, whole_source = read_source(tmp_path)
    assert source.kind == whole_source.kind == "Lightning metrics.csv"
    followed = _accumulate(polls)
    assert followed[0]["type"] == whole[0]["type"] == "run_start"
    assert followed[1:] == whole[1:]  # incremental reading gives what one read gives
    epochs = epochs_of(whole)
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [r["lr"] for r in epochs] == pytest.approx([0.1, 0.05, 0.025])
    with open(path, newline="") as f:
        raw_val = [float(row["val_acc"]) for row in csv.DictReader(f) if row["val_acc"]]
    assert [r["test_acc1"] for r in epochs] == pytest.approx([100 * v for v in raw_val])
    assert all(r["train_acc1"] is not None and r["train_loss"] is not None for r in epochs)
    assert "val_acc" in whole_source.note and "fractions" in whole_source.note
    assert any(r["type"] == "step" for r in whole)
    # Lightning rewrote the file whole when keys appeared (the header changed under the
    # follower), and wrote each epoch's val row before its train row: neither made it restart.
    assert len(headers) >= 2
    assert source.state.resets == 0


def test_lightning_run_restarted_in_the_same_directory_is_a_reset(tmp_path):
    path = _fit_lightning(tmp_path, 0.1, 2, [])
    source = open_source(path)
    first, _ = source.poll()
    _fit_lightning(tmp_path, 0.4, 2, [])  # CSVLogger deletes and rewrites metrics.csv
    records, reset = source.poll()
    assert reset and source.state.resets == 1
    assert [r["lr"] for r in epochs_of(records)] == pytest.approx([0.4, 0.2])
    assert [r["lr"] for r in epochs_of(first)] == pytest.approx([0.1, 0.05])


def test_importing_the_readers_pulls_in_no_heavy_library():
    code = ("import sys, runwatch.stream.sources, runwatch.stream.replay; "
            "print(sorted(m for m in ('torch', 'pandas', 'numpy', 'textual', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_a_folder_with_several_logs_asks_which_and_source_picks(tmp_path):
    (tmp_path / "log.txt").write_text('{"epoch": 0, "test_acc1": 5.0}\n')
    nested = tmp_path / "lightning_logs" / "version_0"
    nested.mkdir(parents=True)
    (nested / "metrics.csv").write_text("epoch,step,val_acc\n0,3,0.5\n")
    message = (r"holds several logs \(deit: log.txt, lightning: lightning_logs/version_0/"
               r"metrics.csv\): pick one with --source NAME, or give its path")
    with pytest.raises(RunwatchError, match=message):
        read_source(tmp_path)
    with pytest.raises(RunwatchError, match=message):
        open_source(tmp_path)
    assert read_source(tmp_path, choice="lightning")[1].kind == "Lightning metrics.csv"
    assert read_source(tmp_path, choice="log.txt")[1].kind == "DeiT log.txt"
    with pytest.raises(RunwatchError, match="--source timm: no such log in .*deit: log.txt"):
        read_source(tmp_path, choice="timm")
    with StreamWriter(tmp_path / "metrics.jsonl") as w:  # our own stream beside them wins
        w.write("epoch", epoch=1, test_acc1=5.0)
    assert read_source(tmp_path)[1].kind == "runwatch stream"
