"""The monitor on other trainers' logs: every format trainer.sources reads, from real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_pilot import make_app, table_column, text_of, wait_for
from tui_records import run_async

from runwatch.stream.sources import read_source
from runwatch.tui.widgets.epoch_table import EpochTable
from runwatch.tui.widgets.run_header import RunHeader

DATA = Path(__file__).parent / "data"


def live_epochs(path: Path) -> list[dict]:
    records, _ = read_source(path)
    return [r for r in records if r["type"] == "epoch"]


async def shows_every_epoch(path: Path, kind: str) -> None:
    epochs = live_epochs(path)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == len(epochs))
        assert table_column(app, "epoch")[-1] == str(epochs[-1]["epoch"])
        assert table_column(app, "test")[-1] == f"{epochs[-1]['test_acc1']:.2f}"
        assert f"({kind}" in text_of(app.query_one(RunHeader))
        await wait_for(pilot, lambda: "SOURCE" in text_of(app.query_one("#alert-lines")))


@pytest.mark.parametrize(("path", "kind"), [
    ("foreign/deit_style_log_txt/repvit_m0_9_distill_300e.txt", "DeiT log.txt"),
    ("foreign/deit_style_log_txt/cfvit_deits_300ep_log.txt", "DeiT log.txt"),
    ("foreign/json_stats_log_txt/wide-resnet_log.txt", "Torch7 json_stats log"),
    ("curves/cifar10_vgg_step.csv", "CSV"),
])
@run_async
async def test_foreign_log_files(path, kind):
    await shows_every_epoch(DATA / path, kind)


@run_async
async def test_timm_summary_and_lightning_metrics_written_by_those_libraries(tmp_path):
    from lightning.pytorch.loggers import CSVLogger
    from timm.utils import update_summary

    summary = tmp_path / "timm" / "summary.csv"
    summary.parent.mkdir()
    for e in range(4):
        update_summary(e, {"loss": 2.0 - e / 10}, {"loss": 1.5 - e / 10, "top1": 40.0 + e,
                                                   "top5": 70.0 + e}, summary, lr=0.1 / (e + 1))
    await shows_every_epoch(summary, "timm summary.csv")

    logger = CSVLogger(tmp_path / "pl", name="tiny", version=0)
    for e in range(3):
        logger.log_metrics({"train_loss": 1.0 - e / 10, "epoch": e}, step=e * 2)
        logger.log_metrics({"val_acc": 0.5 + e / 10, "val_loss": 0.9 - e / 10, "epoch": e},
                           step=e * 2 + 1)
    logger.save()
    await shows_every_epoch(Path(logger.log_dir) / "metrics.csv", "Lightning metrics.csv")
