import json
import math

from tui_records import run_records, step, write_stream

from runwatch.stream.sources import open_source, read_source
from runwatch.tui.feed import StepFolder, StreamFeed
from runwatch.tui.run_model import RunModel


def drain(feed) -> list[dict]:
    out: list[dict] = []
    while True:
        records, reset = feed.poll()
        out = records if reset else out + records
        if feed.caught_up():
            return out


def model_of(records) -> RunModel:
    model = RunModel()
    model.apply(records)
    return model


def test_folded_steps_give_the_same_model_as_full_records(tmp_path):
    records = run_records(6, steps=40)
    with open(tmp_path / "metrics.jsonl", "w") as f:  # compact, as StreamWriter writes
        for record in records:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
    full, _ = read_source(tmp_path)
    feed = StreamFeed(open_source(tmp_path))
    fast = drain(feed)
    assert not any(r["type"] == "step" for r in fast)
    slow_model, fast_model = model_of(full), model_of(fast)
    assert [p.record for p in fast_model.epochs()] == [p.record for p in slow_model.epochs()]
    assert fast_model.step_loss.means() == slow_model.step_loss.means()
    assert len(fast_model.step_loss) == 240
    assert fast_model.images_per_s == 1234.0  # the last record was an epoch: its speed
    assert feed.state.records == len(records) and feed.kind == "runwatch stream"


def test_step_folder_lines():
    folder = StepFolder()
    line = json.dumps(step(1, 2, math.nan), separators=(",", ":"))
    assert folder(line) is None and math.isnan(folder.loss[0])
    assert folder('{"type":"epoch","epoch":1}') == {"type": "epoch", "epoch": 1}
    spaced = json.dumps(step(1, 3, 2.5))  # not compact: parsed the ordinary way
    assert folder(spaced)["loss"] == 2.5
    try:
        folder('{"type":"step","loss":1.0')
    except ValueError:
        pass
    else:
        raise AssertionError("a truncated step line must be a bad line")
    taken = folder.take()
    assert taken["type"] == "steps" and taken["time"] is not None and folder.take() is None


def test_file_that_appears_later_is_read_fast_from_its_start(tmp_path):
    feed = StreamFeed(open_source(tmp_path))
    assert feed.poll() == ([], False) and feed.state.missing
    write_stream(tmp_path / "metrics.jsonl", run_records(2, steps=3))
    records = drain(feed)
    assert [r["type"] for r in records] == ["run_start", "epoch", "epoch", "steps"]


def test_other_formats_pass_through(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,test_acc1\n1,50.0\n2,55.0\n")
    records = drain(StreamFeed(open_source(path)))
    assert [r["test_acc1"] for r in records if r["type"] == "epoch"] == [50.0, 55.0]
