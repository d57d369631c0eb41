"""Stream records -> history: the live branch only, known columns only."""

from forecast import history_from_records


def epoch(n, acc, **extra):
    return {"type": "epoch", "time": 1000.0 + n, "epoch": n, "test_acc1": acc, "lr": 0.1,
            **extra}


def test_a_resume_abandons_the_later_epochs_of_the_old_branch():
    records = [{"type": "run_start", "time": 0.0}, epoch(1, 10.0), epoch(2, 20.0),
               epoch(3, 5.0), {"type": "resume", "time": 2.0, "after_epoch": 2},
               epoch(3, 30.0, test_loss=2.0)]
    df = history_from_records(records)
    assert df["epoch"].tolist() == [1, 2, 3]
    assert df["test_acc1"].tolist() == [10.0, 20.0, 30.0]
    assert "test_loss" in df.columns and "train_acc1" not in df.columns


def test_none_values_become_nan_and_no_epochs_give_an_empty_frame():
    df = history_from_records([epoch(1, None)])
    assert df["test_acc1"].isna().all()
    assert history_from_records([{"type": "run_start"}]).empty
