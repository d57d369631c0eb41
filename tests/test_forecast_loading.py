"""Reading a run for the commands: plan from --plan, the stream's spec, or the log."""

import json
import time

import pytest

from runwatch.errors import RunwatchError
from runwatch.forecast import forecast_run
from runwatch.forecast.loading import load_run, optimizer_name
from runwatch.schedule import ScheduleSpec, lr_plan, spec_to_dict

SPEC = ScheduleSpec("cosine_restarts", 0.1, 40, t0=10, eta_min=1e-4)


def write_stream(path, n=12, patience=7):
    lrs = lr_plan(SPEC)
    lines = [{"type": "run_start", "time": 0.0, "run_id": "r1", "target_acc1": 70.0,
              "config": {"train": {"early_stop_patience": patience}},
              "schedule": spec_to_dict(SPEC), "lr_schedule": lrs}]
    lines += [{"type": "epoch", "time": 100.0 * e, "epoch": e, "test_acc1": 20.0 + 3 * e,
               "lr": lrs[e - 1], "epoch_time_s": 100.0} for e in range(1, n + 1)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_stream_gives_spec_target_patience_and_scenarios(tmp_path):
    run = load_run(str(write_stream(tmp_path / "metrics.jsonl")))
    assert run.spec == SPEC and run.plan == lr_plan(SPEC)
    assert run.target == 70.0 and run.options.patience == 7
    assert run.options.scenarios[0][0] == "continue as planned"


def test_upto_and_plan_override(tmp_path):
    path = write_stream(tmp_path / "metrics.jsonl")
    run = load_run(str(path), upto=5, plan_text="cosine:lr=0.1,epochs=50", target=80.0)
    assert run.history.epoch.max() == 5 and len(run.plan) == 50
    assert run.target == 80.0 and run.spec.name == "cosine"


def test_upto_before_the_first_epoch_is_an_error(tmp_path):
    with pytest.raises(RunwatchError, match="--upto"):
        load_run(str(write_stream(tmp_path / "metrics.jsonl")), upto=0)


def test_a_folder_of_logs_is_named_by_the_file_read(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text("epoch,test_acc1\n1,10\n2,20\n")
    run = load_run(str(tmp_path))
    assert run.name == f"{tmp_path.name}/train.csv"


def test_a_log_in_the_current_folder_is_named_once(tmp_path, monkeypatch):
    (tmp_path / "train.csv").write_text("epoch,test_acc1\n1,10\n2,20\n")
    monkeypatch.chdir(tmp_path)
    assert load_run("train.csv").name == "train.csv"


def test_seed_csv_carries_no_plan_so_its_completed_restart_cycle_is_assumed_to_go_on():
    run = load_run("tests/data/seed_run/epochs.csv")
    assert len(run.history) == 31 and len(run.plan) == 120
    assert run.spec.name == "cosine_restarts" and run.spec.t0 == 30
    assert run.plan_origin.startswith("assumed") and any("assumed" in n for n in run.notes)
    assert any(name.startswith("T_0=") for name, _, _ in run.options.scenarios)


def test_a_log_whose_lrs_follow_no_known_shape_has_no_plan(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,test_acc1,lr\n" + "".join(
        f"{e},{30 + e},{0.1 if e < 8 else 0.02}\n" for e in range(1, 12)))
    run = load_run(str(path))
    assert run.plan is None and run.plan_origin == "unknown" and run.options.scenarios == ()


def test_upto_on_a_finished_log_takes_its_whole_lr_column_as_the_plan():
    run = load_run("tests/data/curves/cifar10_vgg_step.csv", upto=50)
    assert len(run.history) == 50 and len(run.plan) == 200 and run.plan[60] == 0.02
    assert any("the LRs the log records" in n for n in run.notes)


@pytest.mark.parametrize("checkpoint", [0, 13, 99])
def test_a_checkpoint_that_is_not_a_logged_epoch_is_an_error(tmp_path, checkpoint):
    with pytest.raises(RunwatchError, match=f"--checkpoint {checkpoint} is not an .* 1-12"):
        load_run(str(write_stream(tmp_path / "metrics.jsonl")), checkpoint=checkpoint)


def test_scenarios_from_an_earlier_checkpoint_start_from_its_own_lr(tmp_path):
    # Epoch 9 ran at lr_plan(SPEC)[8]; epoch 12 (the last) ran at a 10x higher LR after the
    # restart at 11: annealing "from the current LR" of epoch 9 must start from epoch 9's LR.
    run = load_run(str(write_stream(tmp_path / "metrics.jsonl")), checkpoint=9)
    lrs = lr_plan(SPEC)
    anneal = dict((name, after) for name, _, after in run.options.scenarios)[
        "anneal from current LR"]
    assert {c for _, c, _ in run.options.scenarios} >= {9}
    assert anneal[0] == pytest.approx(lrs[8], rel=0.05) and anneal[0] < 0.2 * lrs[11]


def test_scenarios_start_from_the_last_epoch_with_a_finite_accuracy(tmp_path):
    # Epoch 13 went NaN: the scenarios start from epoch 12, the last state a forecast knows.
    path = write_stream(tmp_path / "metrics.jsonl")
    with open(path, "a") as f:
        f.write(json.dumps({"type": "epoch", "time": 1300.0, "epoch": 13, "test_acc1": None,
                            "lr": lr_plan(SPEC)[12], "epoch_time_s": 100.0}) + "\n")
    run = load_run(str(path))
    assert {c for _, c, _ in run.options.scenarios} == {12}
    with pytest.raises(RunwatchError, match="13 has no finite accuracy .* of 1-12"):
        load_run(str(path), checkpoint=13)


def test_a_stopped_or_rewound_run_dates_its_eta_from_now(tmp_path):
    path = write_stream(tmp_path / "metrics.jsonl")
    assert load_run(str(path)).options.now is None  # training: from its last epoch
    with open(path, "a") as f:
        f.write(json.dumps({"type": "run_end", "time": 1300.0, "status": "completed"}) + "\n")
        f.write(json.dumps({"type": "event", "time": 1400.0, "kind": "rewind",
                            "to_epoch": 9}) + "\n")
    before = time.time()
    assert load_run(str(path)).options.now >= before  # as the monitor dates it
    assert load_run(str(path), upto=8).options.now is None  # a backtest: no wall clock


def test_unreadable_lines_are_counted_in_the_notes(tmp_path):
    path = write_stream(tmp_path / "metrics.jsonl")
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:3] + ["garbage{", '{"type": "epoch", "ep'] + text[3:]) + "\n")
    run = load_run(str(path))
    assert len(run.history) == 12
    assert any(n.startswith("2 unreadable line(s) skipped") for n in run.notes)


def test_a_stream_whose_plan_ends_at_zero_is_forecast_to_its_last_planned_epoch(tmp_path):
    # As the trainer writes it: the whole plan in run_start.lr_schedule, here a linear decay
    # to 0.0; the checkpoint epoch's LR is 0 too (no "anneal from the current LR" there).
    plan = [0.1 * max(0.0, 1 - e / 28) for e in range(30)]  # epochs 29 and 30 at 0.0
    lines = [{"type": "run_start", "time": 0.0, "run_id": "r0", "lr_schedule": plan}]
    lines += [{"type": "epoch", "time": 10.0 * e, "epoch": e, "test_acc1": 30.0 + e,
               "lr": plan[e - 1]} for e in range(1, 31)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = load_run(str(path), upto=20)
    assert run.plan == plan
    result = forecast_run(run.history, run.plan, 75.0, run.options)
    assert result.predictions[-1].epoch == 30
    at_end = load_run(str(path), upto=29)
    assert any("already 0" in n for n in at_end.notes)


@pytest.mark.parametrize("config, name", [
    ({"optim": {"name": "sgd", "lr": 0.1}}, "sgd"),         # ours
    ({"optimizer": "sgd", "momentum": 0.9}, "sgd"),         # the seed run
    ({"args": {"opt": "adamw", "opt_eps": 1e-8}}, "adamw"),  # timm's args, nested
    ({"lr": 0.1}, None),
])
def test_the_optimizer_is_read_from_the_runs_config(config, name):
    assert optimizer_name(config) == name


def test_a_stream_gives_its_optimizer_to_the_forecast(tmp_path):
    run = load_run(str(write_stream(tmp_path / "metrics.jsonl")))
    assert run.options.optimizer is None  # this stream's config names none
    lines = tmp_path.joinpath("metrics.jsonl").read_text().splitlines()
    start = json.loads(lines[0])
    start["config"]["optim"] = {"name": "adamw"}
    tmp_path.joinpath("metrics.jsonl").write_text("\n".join([json.dumps(start), *lines[1:]]))
    assert load_run(str(tmp_path / "metrics.jsonl")).options.optimizer == "adamw"


def test_a_run_resumed_on_an_edited_schedule_is_forecast_with_its_whole_plan(tmp_path):
    # `ckpt rewind --continuity anneal-from-current` (or match-lr, restart) writes a schedule
    # that starts after the rewind epoch (offset 6): its LRs of epochs 1-6 are not its own,
    # so the plan is the whole one the resume record carries.
    from runwatch.schedule import continue_schedule

    path = write_stream(tmp_path / "metrics.jsonl", n=8)
    edited = continue_schedule(SPEC, 6, lr_plan(SPEC)[5], "anneal-from-current")
    assert edited.offset == 6
    whole = lr_plan(SPEC)[:6] + lr_plan(edited, 7)
    resume = {"type": "resume", "time": 900.0, "after_epoch": 6, "run_id": "r1",
              "schedule": spec_to_dict(edited), "lr_schedule": whole}
    epochs = [{"type": "epoch", "time": 1000.0 + e, "epoch": e, "test_acc1": 40.0 + e,
               "lr": whole[e - 1], "epoch_time_s": 100.0} for e in (7, 8, 9)]
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in [resume, *epochs])
    run = load_run(str(path))
    assert run.plan == pytest.approx(whole)
    assert run.options.scenarios[0] == ("continue as planned", 9, tuple(whole[9:]))
    assert forecast_run(run.history, run.plan, run.target, run.options).predictions
