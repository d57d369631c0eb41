"""The resume config a rewind writes reads back equal with tomllib."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport (a project dependency there)
    import tomli as tomllib

from runwatch.ckpt_tools.rewind import config_toml


def test_round_trip_and_none_left_out():
    config = {"optim": {"lr": 0.05, "nesterov": False, "name": 'sg"d'},
              "schedule": {"milestones": [30, 60], "t0": 30, "eta_min": 1e-05},
              "data": {"data_dir": None, "path": "C:\\x"}}
    back = tomllib.loads(config_toml(config))
    assert back["optim"] == config["optim"] and back["schedule"] == config["schedule"]
    assert back["data"] == {"path": "C:\\x"}


def test_a_path_outside_the_basic_plane_reads_back():
    # The hand-written writer emitted a surrogate pair here, which tomllib rejects.
    config = {"data": {"data_dir": "/data/\U0001f600/imagenet"}}
    assert tomllib.loads(config_toml(config)) == config
