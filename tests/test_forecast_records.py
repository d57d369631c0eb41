"""Stream records -> history: the live branch only, known columns only."""

from runwatch.forecast import forecast_run, history_from_records


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


def test_stream_accuracies_under_one_percent_stay_percent():
    # An ImageNet run's first epochs (0.116%, 0.5%): the stream is percent by its schema, so
    # the forecast must not read them as fractions (11.6%, 50%).
    records = [{"type": "epoch", "epoch": e, "test_acc1": a, "lr": 1e-6}
               for e, a in ((1, 0.116), (2, 0.5))]
    result = forecast_run(history_from_records(records), [1e-6] * 10, 75.0)
    assert result.last_acc1 == 0.5 and not any("fraction" in n for n in result.notes)
