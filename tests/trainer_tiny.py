"""A tiny training setup shared by the trainer's tests: a small CNN on 8-px synthetic images."""

from __future__ import annotations

import copy
from pathlib import Path

from runwatch.trainer.config import Config, config_from_dict

TINY = {
    "model": {"arch": "tiny_cnn", "num_classes": 4},
    "data": {"dataset": "synthetic", "image_size": 8, "batch_size": 8, "workers": 0,
             "train_size": 64, "val_size": 32, "noise": 0.5},
    "optim": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": True,
              "label_smoothing": 0.1},
    "schedule": {"name": "cosine_restarts", "t0": 2, "eta_min": 0.001},
    "train": {"epochs": 4, "seed": 3, "amp": "off", "checkpoint_keep": 2,
              "log_every_steps": 2, "device": "cpu"},
}


def tiny_dict(**sections: dict) -> dict:
    raw = copy.deepcopy(TINY)
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return raw


def tiny_config(**sections: dict) -> Config:
    """The tiny config with some keys replaced, e.g. tiny_config(train={"epochs": 2})."""
    return config_from_dict(tiny_dict(**sections), source="tiny")


def write_toml(path: Path, raw: dict) -> Path:
    """A config dict as a TOML file (flat sections of scalars and lists)."""
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {toml_value(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)
