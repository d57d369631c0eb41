"""Write a config dict (sections of scalars and lists) as TOML that tomllib reads back equal."""

from __future__ import annotations

import json
import math

from trainer.errors import RunwatchError


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise RunwatchError(f"config value {value!r} cannot be written as TOML")


def dumps_toml(config: dict) -> str:
    """`[section]` tables of `key = value` lines; None values are left out (TOML has no null)."""
    lines = []
    for section, values in config.items():
        if not isinstance(values, dict):
            raise RunwatchError(f"config entry {section!r} is not a section table")
        lines.append(f"[{section}]")
        lines += [f"{key} = {_value(v)}" for key, v in values.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
