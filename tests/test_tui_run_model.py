import math

from tui_records import epoch, model_of, run_records, run_start

from runwatch.stream import split_branches
from runwatch.tui.feed import StepFolder
from runwatch.tui.run_model import RunModel


def test_appends_epochs_and_keeps_every_step_by_epoch():
    folder = StepFolder()
    records = folder.fold(run_records(3, steps=50))
    model = RunModel()
    change = model.apply(records, folder.take())
    assert change.new_epochs == [1, 2, 3] and change.plan and change.steps
    assert [p.epoch for p in model.epochs()] == [1, 2, 3]
    assert len(model.steps) == 150
    assert model.steps.bounds == {1: (0, 50), 2: (50, 100), 3: (100, 150)}
    assert model.planned_epochs == 40 and model.target_acc1 == 75.0
    change = model.apply([epoch(4)])
    assert change.new_epochs == [4] and not change.rebuild


def test_resume_abandons_later_epochs_like_split_branches():
    records = run_records(6) + [{**run_start(), "type": "resume", "after_epoch": 3},
                                epoch(4, 50.0), epoch(5, 51.0)]
    model = RunModel()
    first = model.apply(records[:7])
    assert first.new_epochs == [1, 2, 3, 4, 5, 6]
    change = model.apply(records[7:])
    assert change.rebuild
    branches = split_branches(records)
    assert [p.record for p in model.epochs()] == branches.live
    assert sorted(p.epoch for p in model.abandoned) == [4, 5, 6]
    assert model.live[4].test_acc1 == 50.0


def test_rewind_event_and_repeated_epoch():
    model = RunModel()
    model.apply(run_records(5))
    change = model.apply([{"type": "event", "kind": "rewind", "to_epoch": 2, "time": 1.0}])
    assert change.rebuild and max(model.live) == 2
    change = model.apply([epoch(2, 99.0)])  # the same epoch again: replaces, older abandoned
    assert change.rebuild and model.live[2].test_acc1 == 99.0
    assert len(model.abandoned) == 4


def test_nan_values_and_missing_fields():
    model = RunModel()
    model.apply([epoch(1), epoch(2, test_loss=math.nan), {"type": "epoch", "epoch": 3}])
    assert model.live[2].nonfinite()
    assert not model.live[3].nonfinite() and math.isnan(model.live[3].test_acc1)
    assert model.best().epoch == 2


def test_reset_forgets_everything_and_end_and_checkpoints():
    model = model_of(run_records(2, steps=3) + [
        {"type": "checkpoint", "epoch": 2, "path": "c/epoch-0002.pt", "is_best": True},
        {"type": "run_end", "status": "completed", "epoch": 2, "time": 5.0}])
    assert model.end["status"] == "completed" and model.checkpoints
    model.reset()
    assert not model.live and model.end is None and not model.checkpoints
    assert len(model.steps) == 0 and model.steps.bounds == {}


def test_patience_from_config_section_or_top_level():
    model = RunModel()
    model.apply([run_start(patience=7)])
    assert model.patience() == 7
    model.config = {"early_stopping_patience": 15}
    assert model.patience() == 15


def test_values_of_the_wrong_type_are_read_as_absent():
    # One odd record must not take the monitor down: each field is checked as it is read.
    model = model_of(run_records(4))
    change = model.apply([
        {"type": "resume", "after_epoch": None, "lr_schedule": "abc", "epochs": "many"},
        {"type": "run_start", "lr_schedule": [0.1, "x"], "target_acc1": float("inf")},
        {"type": "checkpoint", "path": 7, "epoch": 3},
        {"type": "epoch", "epoch": True, "test_acc1": 1.0}])
    assert sorted(model.live) == [] and len(model.abandoned) == 4  # resumed after epoch 0
    assert model.plan == run_records(1)[0]["lr_schedule"] and model.planned_epochs == 40
    assert model.target_acc1 == 75.0 and model.checkpoints == {} and change.rebuild
