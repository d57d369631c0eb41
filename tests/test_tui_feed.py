import json
import math

from tui_records import run_records, step, write_stream

from runwatch.stream.replay import ReplaySource
from runwatch.stream.sources import open_source, read_source
from runwatch.tui.feed import StepFolder, StreamFeed
from runwatch.tui.run_model import RunModel
from runwatch.tui.source import MonitorSource


def drain(feed) -> RunModel:
    """What the app does with a feed: apply each batch (start over on a reset)."""
    model = RunModel()
    while True:
        batch = feed.poll()
        if batch.reset:
            model.reset()
        model.apply(batch.records, batch.steps)
        if feed.caught_up():
            return model


def test_folded_steps_give_the_same_model_as_full_records(tmp_path):
    records = run_records(6, steps=40)
    write_stream(tmp_path / "metrics.jsonl", records)  # compact, as StreamWriter writes
    full, _ = read_source(tmp_path)
    feed = StreamFeed(open_source(tmp_path))
    fast = drain(feed)
    slow = drain(StreamFeed(ReplaySource(full, 1e9)))  # parsed records, folded after
    assert [p.record for p in fast.epochs()] == [p.record for p in slow.epochs()]
    assert list(fast.steps.loss) == list(slow.steps.loss) and len(fast.steps) == 240
    assert list(fast.steps.lr) == list(slow.steps.lr)
    assert fast.steps.bounds == slow.steps.bounds == {
        e: (40 * (e - 1), 40 * e) for e in range(1, 7)}
    assert fast.images_per_s == 1234.0  # the last record was an epoch: its speed
    assert feed.state.records == len(records) and feed.kind == "runwatch stream"


def test_step_folder_lines():
    folder = StepFolder()
    line = json.dumps(step(1, 2, math.nan), separators=(",", ":"))
    assert folder(line) is None and math.isnan(folder.batch.loss[0])
    assert folder('{"type":"epoch","epoch":1}') == {"type": "epoch", "epoch": 1}
    spaced = json.dumps(step(1, 3, 2.5))  # not compact: parsed the ordinary way
    assert folder(spaced)["loss"] == 2.5
    null_loss = json.dumps({**step(2, 1, 1.0), "loss": None}, separators=(",", ":"))
    assert folder(null_loss) is None and math.isnan(folder.batch.loss[-1])
    try:
        folder('{"type":"step","loss":1.0')
    except ValueError:
        pass
    else:
        raise AssertionError("a truncated step line must be a bad line")
    taken = folder.take()
    assert taken.marks == [(1, 1)] and len(taken.loss) == 2 and taken.time is not None
    assert folder.take() is None


def test_file_that_appears_later_is_read_fast_from_its_start(tmp_path):
    feed = StreamFeed(open_source(tmp_path))
    batch = feed.poll()
    assert (batch.records, batch.steps, batch.reset) == ([], None, False) and feed.state.missing
    write_stream(tmp_path / "metrics.jsonl", run_records(2, steps=3))
    model = drain(feed)
    assert sorted(model.live) == [1, 2] and len(model.steps) == 6


def test_other_formats_pass_through(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,test_acc1\n1,50.0\n2,55.0\n")
    model = drain(StreamFeed(open_source(path)))
    assert [p.test_acc1 for p in model.epochs()] == [50.0, 55.0] and len(model.steps) == 0


def test_every_source_the_monitor_follows_has_the_monitor_source_shape(tmp_path):
    write_stream(tmp_path / "metrics.jsonl", run_records(2))
    assert isinstance(open_source(tmp_path), MonitorSource)
    assert isinstance(ReplaySource(run_records(2), 1.0), MonitorSource)
