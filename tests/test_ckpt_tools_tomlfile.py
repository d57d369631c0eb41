"""The resume config written by rewind reads back equal with tomllib."""

from __future__ import annotations

import pytest

from ckpt_tools.tomlfile import dumps_toml
from trainer.errors import RunwatchError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport (a project dependency there)
    import tomli as tomllib


def test_round_trip_and_none_left_out():
    config = {"optim": {"lr": 0.05, "nesterov": False, "name": 'sg"d'},
              "schedule": {"milestones": [30, 60], "t0": 30, "eta_min": 1e-05},
              "data": {"data_dir": None, "path": "C:\\x"}}
    back = tomllib.loads(dumps_toml(config))
    assert back["optim"] == config["optim"] and back["schedule"] == config["schedule"]
    assert back["data"] == {"path": "C:\\x"}


def test_nested_values_are_refused():
    with pytest.raises(RunwatchError):
        dumps_toml({"a": {"b": {"c": 1}}})
