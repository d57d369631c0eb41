"""Config files: the built-in configs, --set overrides, and refusals that name the problem."""

from __future__ import annotations

import os

import pytest
from trainer_tiny import TINY, write_toml

from runwatch.errors import RunwatchError
from runwatch.schedule import ScheduleSpec, find_jumps, lr_at, lr_plan
from runwatch.trainer.config import (
    config_from_dict,
    config_to_dict,
    load_config,
    resolve_config_path,
    schedule_spec,
)
from runwatch.trainer.limits import count_parameters


def test_seed_config_is_the_seed_run():
    config, path = load_config("resnet50_imagenet")
    assert path.name == "resnet50_imagenet.toml" and path.is_file()
    assert schedule_spec(config) == ScheduleSpec("cosine_restarts", 0.05, 100, t0=30,
                                                 eta_min=1e-5)
    assert (config.model.arch, config.data.batch_size, config.data.image_size) == \
        ("resnet50", 256, 224)
    assert (config.optim.momentum, config.optim.weight_decay) == (0.9, 1e-4)
    assert (config.train.early_stop_patience, config.train.target_acc1) == (15, 75.0)
    spec = schedule_spec(config)
    assert [j.epoch for j in find_jumps(lr_plan(spec), 1)] == [31, 61, 91]


def test_recipe_config_warms_up_then_one_cosine_over_the_budget():
    config, _ = load_config("resnet50_imagenet_recipe")
    spec = schedule_spec(config)
    assert spec.name == "cosine" and spec.warmup_epochs == 5
    assert config.optim.lr == pytest.approx(0.1 * config.data.batch_size / 256)
    assert config.optim.label_smoothing == 0.1
    plan = lr_plan(spec)
    assert max(plan) == pytest.approx(config.optim.lr)
    warmup, anneal = plan[:5], plan[5:]
    assert warmup == sorted(warmup) and anneal == sorted(anneal, reverse=True)  # no restart
    assert anneal[0] == pytest.approx(config.optim.lr) and anneal[-1] < 0.001


def test_smoke_config_restarts_early_on_a_small_synthetic_set():
    config, _ = load_config("smoke_cpu")
    spec = schedule_spec(config)
    assert config.data.dataset == "synthetic" and config.data.image_size == 32
    assert spec.name == "cosine_restarts" and spec.t0 <= 6
    assert 20 <= spec.epochs <= 30
    assert lr_at(spec, spec.t0 + 1) > 10 * lr_at(spec, spec.t0)
    # Every demo leaves its run in /tmp: small checkpoints (weights and momentum, 4 bytes
    # each), one epoch file kept.
    assert count_parameters(config) * 8 < 1_000_000 and config.train.checkpoint_keep == 1


def test_set_overrides_are_typed_like_toml(tmp_path):
    path = write_toml(tmp_path / "c.toml", TINY)
    config, _ = load_config(path, ["optim.lr=0.2", "schedule.name=step",
                                   "schedule.milestones=[2, 3]", "model.arch=resnet18",
                                   'data.data_dir="/x y"', "train.compile=true"])
    assert config.optim.lr == 0.2 and config.schedule.milestones == (2, 3)
    assert (config.model.arch, config.data.data_dir, config.train.compile) == \
        ("resnet18", "/x y", True)
    assert config_to_dict(config)["schedule"]["milestones"] == [2, 3]
    assert config_from_dict(config_to_dict(config)) == config


@pytest.mark.parametrize(("raw", "overrides", "message"), [
    ({"model": {"arhc": "x"}}, [], r"unknown key model.arhc in .*c.toml"),
    ({"modle": {}}, [], r"unknown section \[modle\]"),
    ({"optim": {"lr": "0.1"}}, [], r"optim.lr in .* must be a number, not '0.1'"),
    ({"train": {"epochs": 9.5}}, [], r"train.epochs .* must be an integer"),
    ({"train": {"compile": 1}}, [], r"train.compile .* must be true or false"),
    ({"schedule": {"milestones": [1, "2"]}}, [], r"must be a list of integers"),
    ({"train": {"amp": "fp8"}}, [], r"train.amp .* use one of bf16, fp16, off"),
    ({"schedule": {"name": "linear"}}, [], r"unknown schedule 'linear'"),
    ({"data": {"batch_size": 0}}, [], r"data.batch_size .* at least 1"),
    ({"optim": {"momentum": 0.0, "nesterov": True}}, [], r"nesterov needs momentum"),
    ({}, ["optim.lr"], r"--set 'optim.lr' is not section.key=value"),
    ({}, ["lr=0.1"], r"is not section.key=value"),
    # A bad --set is named as such, not blamed on the (valid) file.
    ({}, ["optim.lr=abc"], r"^optim.lr in --set must be a number, not 'abc'$"),
    ({}, ["optim.lrr=0.1"], r"^unknown key optim.lrr in --set: known keys"),
    ({}, ["foo.bar=1"], r"^unknown section \[foo\] in --set: use model"),
    ({"train": {"epochs": 2.5}}, ["optim.lr=0.2"], r"train.epochs in .*c.toml must be"),
    # Values the code or a machine cannot hold: refused where they are read.
    ({}, ["train.seed=-1"], r"^train.seed in --set is -1: it must be at least 0$"),
    ({}, ["train.seed=4294967296"], r"^train.seed in --set .* at most 4294967295$"),
    ({}, ["model.num_classes=1e8"], r"^model.num_classes in --set must be an integer"),
    ({}, ["data.image_size=1000000"], r"^data.image_size in --set .* at most 8192$"),
    ({}, ["train.epochs=1000000"], r"^train.epochs in --set .* at most 10000$"),
    ({}, ["optim.momentum=nan"], r"^optim.momentum in --set is nan: it must be a finite"),
    ({}, ["optim.label_smoothing=2.0"], r"^optim.label_smoothing in --set .* at most 1.0$"),
    ({}, ["data.noise=-1.0"], r"^data.noise in --set .* at least 0"),
    # A schedule range check names the --set that broke it, not the (valid) file ...
    ({}, ["optim.lr=inf"], r"^optim.lr in --set is inf: it must be a finite number$"),
    ({}, ["optim.lr=0"], r"^--set optim.lr: schedule lr = 0.0 is out of range"),
    ({}, ["schedule.eta_min=5.0"], r"^--set schedule.eta_min: schedule eta_min = 5.0"),
    ({}, ["train.epochs=2", "schedule.warmup_epochs=3", "schedule.name=cosine"],
     r"^--set schedule.warmup_epochs, train.epochs: cosine schedule needs more epochs"),
    # ... and the file when the file did.
    ({"optim": {"lr": 0.0}}, ["train.epochs=5"], r"c.toml: schedule lr = 0.0 is out of range"),
    ({}, ["schedule.milestones=" + "[" * 5000 + "]" * 5000],
     r"^--set schedule.milestones: the value nests too deeply"),
])
def test_bad_configs_are_refused_in_one_line(tmp_path, raw, overrides, message):
    path = write_toml(tmp_path / "c.toml", raw)
    with pytest.raises(RunwatchError, match=message) as err:
        load_config(path, overrides)
    assert "\n" not in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RunwatchError, match="config file nope.toml not found"):
        load_config("nope.toml")
    (tmp_path / "bad.toml").write_text("[model\narch = 1\n")
    with pytest.raises(RunwatchError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b'[model]\narch = "r\xe9snet"\n'),
     r"is not UTF-8 text \(byte 17: b'\\xe9'\): save it as UTF-8$"),
    (lambda p: p.write_text("[train]\nseed = " + "[" * 5000 + "]" * 5000 + "\n"),
     r"nests arrays or tables too deeply for a config"),
    (lambda p: p.write_bytes(b"# " + b"x" * (1 << 20) + b"\n"), r"is larger than 1 MiB"),
    (lambda p: p.mkdir(), r"is not a regular file"),
    (lambda p: os.mkfifo(p), r"is not a regular file"),  # reading it would block for ever
])
def test_config_files_that_are_not_configs_are_refused_in_one_line(tmp_path, make, message):
    path = tmp_path / "c.toml"
    make(path)
    with pytest.raises(RunwatchError, match=message) as err:
        load_config(path)
    assert "\n" not in str(err.value)


def test_bare_names_resolve_to_the_built_in_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    builtin = resolve_config_path("smoke_cpu")
    assert builtin.parent != tmp_path and builtin.name == "smoke_cpu.toml" and builtin.is_file()
    assert resolve_config_path("smoke_cpu.toml") == builtin
    (tmp_path / "smoke_cpu.toml").write_text("")
    assert resolve_config_path("smoke_cpu.toml").resolve() == tmp_path / "smoke_cpu.toml"


def test_step_per_chooses_a_per_step_schedule_in_the_loaders_steps(tmp_path):
    path = write_toml(tmp_path / "c.toml", TINY)
    config, _ = load_config(path, ["schedule.step_per=step"])
    assert schedule_spec(config, loader_steps=50).steps_per_epoch == 50
    per_epoch, _ = load_config(path)
    assert per_epoch.schedule.step_per == "epoch"
    assert schedule_spec(per_epoch, loader_steps=50).steps_per_epoch == 1
    with pytest.raises(RunwatchError, match="schedule.step_per.*use one of epoch, step"):
        load_config(path, ["schedule.step_per=batch"])
