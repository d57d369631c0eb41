"""What to do: the options the monitor can act on, forecast, ranked and said in words."""

from tui_pilot import fake_checkpoints, make_app, stream_in, wait_for
from tui_records import SPEC, model_of, run_async, run_records

from runwatch.stream.replay import seed_run_records
from runwatch.tui.advice import KEEP, MIN_GAIN, advise, options, scenarios_of
from runwatch.tui.forecasting import run_forecast
from runwatch.tui.surgery import EditChoice


def seed_upto(epoch: int):
    records = seed_run_records(start_time=0.0)
    return model_of(records[:epoch + 1])


def scenario(name, final, lo, hi, curve=()):
    return {"name": name, "final_epoch": 100, "final_acc1": final, "lo80": lo, "hi80": hi,
            "curve": [{"epoch": e, "acc1": a} for e, a in curve]}


def test_options_are_the_dialogs_choices_from_the_newest_and_the_best_checkpoint():
    model = seed_upto(31)  # the restart happened: the best (29) is behind the newest (31)
    opts = options(model, checkpoint_epochs=None)  # a replay: every epoch may be the start
    assert opts[0].key == KEEP and opts[0].choice is None and len(opts[0].lrs) == 69
    starts = {(o.checkpoint, o.choice) for o in opts[1:]}
    for start in (31, 29):
        assert (start, EditChoice(continuity="anneal-from-current")) in starts
        assert (start, EditChoice(t0=100, continuity="match-lr")) in starts
    words = {o.words for o in opts}
    assert "Rewind to epoch 29 and anneal from there" in words
    assert "At epoch 31, set T_0=100, keeping the LR" in words
    # With files, only the epochs that have one.
    assert {o.checkpoint for o in options(model, {30})} == {30, 31}  # keep (31) and 30
    assert options(model, set()) == []


def test_ranked_by_the_final_forecast_and_the_cheapest_of_the_best_recommended():
    model = seed_upto(31)
    opts = options(model, None)
    by_key = {o.key: o for o in opts}
    anneal_29 = next(o for o in opts if o.checkpoint == 29 and o.choice.t0 is None)
    match_31 = next(o for o in opts[1:] if o.checkpoint == 31
                    and o.choice.continuity == "match-lr")
    forecast = {"target": 75.0, "scenarios": [
        scenario(KEEP, 54.7, 52.4, 57.0),
        scenario(anneal_29.key, 74.9, 72.1, 77.0, [(90, 74.0), (95, 75.1)]),
        scenario(match_31.key, 74.6, 70.0, 79.0)]}
    advice = advise(opts, forecast, latest_epoch=31)
    assert [r.option.key for r in advice.ranked] == [anneal_29.key, match_31.key, KEEP]
    assert advice.ranked[0].eta_epoch == 95 and advice.ranked[0].cost_epochs == 2
    # 74.6 is within MIN_GAIN of 74.9 and retrains nothing: the one recommended.
    assert MIN_GAIN > 74.9 - 74.6 and advice.recommended.option is match_31
    assert advice.words() == ("At epoch 31, set T_0=100, keeping the LR: 74.6% [70.0, 79.0] at "
                              "epoch 100 instead of 54.7%")
    forecast["scenarios"][2] = scenario(match_31.key, 73.0, 70.0, 76.0)
    best = advise(opts, forecast, latest_epoch=31)
    assert best.words() == ("Rewind to epoch 29 and anneal from there: 74.9% [72.1, 77.0] at "
                            "epoch 100 instead of 54.7%")
    assert by_key[KEEP].choice is None


def test_keeping_the_plan_when_no_change_gains_enough():
    opts = options(seed_upto(31), None)
    forecast = {"target": 75.0, "scenarios": [scenario(o.key, 60.0 - (o.key != KEEP) * 0.2,
                                                       58.0, 62.0) for o in opts]}
    advice = advise(opts, forecast, latest_epoch=31)
    assert advice.recommended.option.choice is None
    assert advice.words().startswith("Keep the plan: 60.0% [58.0, 62.0] at epoch 100")


def test_the_seed_run_at_epoch_23_is_told_a_fix_that_beats_the_plan():
    model = seed_upto(23)
    opts = options(model, None)
    outcome = run_forecast([p.record for p in model.epochs()], model.plan, 75.0,
                           scenarios=scenarios_of(opts))
    advice = advise(opts, outcome.data, latest_epoch=23)
    assert advice.recommended.option.choice is not None
    assert advice.recommended.final_acc1 - advice.baseline.final_acc1 > 5  # the restart's cost
    assert "instead of" in advice.words()


def test_no_advice_without_a_schedule_or_a_checkpoint():
    assert "needs the run's schedule" in advise([], None, 5).words()


@run_async
async def test_a_finished_run_is_told_it_finished_its_plan_and_how_to_train_longer(tmp_path):
    run_dir = stream_in(tmp_path, run_records(SPEC.epochs))
    fake_checkpoints(run_dir)
    app = make_app(run_dir)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: "waiting" not in app.advice.words())
        words = app.advice.words()
    assert f"finished its plan ({SPEC.epochs} epochs)" in words
    assert "runwatch ckpt edit CHECKPOINT --epochs N --dry-run" in words
    # Before the end of the plan, a run without options still says what it lacks.
    assert "needs the run's schedule" in advise([], None, 5, planned_epochs=40).words()
