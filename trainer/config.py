"""Run configs: TOML files parsed into frozen dataclasses, one per section (torch-free).

A config file has the sections below; every key is optional (the defaults are the dataclass
defaults) but an unknown section or key, or a value of the wrong type, is refused with the
key's name and the file. `--set section.key=value` overrides any key; the value is parsed as
TOML (`--set optim.lr=0.2`, `--set schedule.milestones=[30,60]`); a value that is not valid
TOML is taken as a string (`--set model.arch=resnet18`).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from runwatch.errors import RunwatchError
from runwatch.schedule import ScheduleFieldError, ScheduleSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DATASETS = ("imagenet", "synthetic")
DECODERS = ("cpu", "gpu")
AMP_MODES = ("bf16", "fp16", "off")
OPTIMIZERS = ("sgd",)
STEP_PER = ("epoch", "step")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "resnet50"
    num_classes: int = 1000


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "imagenet"
    data_dir: str = ""
    image_size: int = 224
    batch_size: int = 256
    workers: int = 8
    decode: str = "cpu"  # ImageNet's JPEGs: by PIL in the workers, or "gpu": on the device
    # The synthetic set only: images per split, and the noise that makes it non-trivial.
    train_size: int = 10000
    val_size: int = 2000
    noise: float = 1.0


@dataclass(frozen=True)
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    label_smoothing: float = 0.0


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = "cosine"
    t0: int = 30
    t_mult: int = 1
    eta_min: float = 0.0
    warmup_epochs: int = 0
    warmup_start_factor: float = 0.1
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    step_per: str = "epoch"  # "step": the same schedule, stepped after every optimizer step


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 90
    early_stop_patience: int = 0  # 0: never stop early
    target_acc1: float = 0.0  # 0: no target (forecasts use it when set)
    seed: int = 0
    amp: str = "bf16"  # on CUDA; on CPU "bf16" also autocasts, "fp16" runs in fp32
    channels_last: bool = True  # on CUDA only
    compile: bool = False
    # Deterministic kernels (cuDNN, cuBLAS): bit-equal reruns on CUDA, at some speed; off,
    # cuDNN picks the fastest convolutions for the fixed batch shape (cudnn.benchmark).
    deterministic: bool = False
    checkpoint_keep: int = 3
    log_every_steps: int = 50  # step records, and how often ranks agree to stop
    device: str = "auto"


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_SECTION_CLASSES = {
    "model": ModelConfig, "data": DataConfig, "optim": OptimConfig,
    "schedule": ScheduleConfig, "train": TrainConfig,
}
_CHOICES = {
    ("data", "dataset"): DATASETS,
    ("data", "decode"): DECODERS,
    ("train", "amp"): AMP_MODES,
    ("optim", "name"): OPTIMIZERS,
    ("train", "device"): DEVICES,
    ("schedule", "step_per"): STEP_PER,
}
_AT_LEAST = {
    ("model", "num_classes"): 2, ("data", "image_size"): 8, ("data", "batch_size"): 1,
    ("data", "workers"): 0, ("data", "train_size"): 1, ("data", "val_size"): 1,
    ("data", "noise"): 0.0, ("optim", "momentum"): 0.0, ("optim", "weight_decay"): 0.0,
    ("optim", "label_smoothing"): 0.0, ("train", "seed"): 0, ("train", "target_acc1"): 0.0,
    ("train", "epochs"): 1, ("train", "early_stop_patience"): 0,
    ("train", "checkpoint_keep"): 1, ("train", "log_every_steps"): 1,
}
# What the code can represent (numpy's seeds), or a line of the stream can hold (one LR per
# epoch in run_start); what a machine can hold is checked when a run starts (trainer/limits.py).
_AT_MOST = {
    ("train", "seed"): 2**32 - 1, ("train", "epochs"): 10_000, ("data", "image_size"): 8192,
    ("optim", "label_smoothing"): 1.0, ("train", "target_acc1"): 100.0,
}
# The largest config file read: configs are a few hundred bytes; a bigger one is a mistake.
MAX_CONFIG_BYTES = 1 << 20
# How a schedule field (runwatch.schedule.ScheduleSpec) is spelt in a config.
_SPEC_KEYS = {"base_lr": "optim.lr", "lr": "optim.lr", "epochs": "train.epochs"}


def builtin_configs() -> list[str]:
    """Names of the configs shipped in the package (`runwatch.configs`)."""
    return sorted(p.name[:-5] for p in resources.files("runwatch.configs").iterdir()
                  if p.name.endswith(".toml"))


def resolve_config_path(name: str | Path) -> Path:
    """A config path as given, or a bare name (`smoke_cpu`) of a built-in config."""
    path = Path(name)
    if path.exists():
        return path
    bare = str(name)[:-5] if str(name).endswith(".toml") else str(name)
    if len(path.parts) == 1 and bare in builtin_configs():
        # Installed packages are plain files (zip imports are not supported for configs).
        return Path(str(resources.files("runwatch.configs") / f"{bare}.toml"))
    raise RunwatchError(
        f"config file {name} not found: give a path to a TOML file or a built-in name "
        f"({', '.join(builtin_configs())})"
    )


def load_config(path: str | Path, overrides: list[str] = ()) -> tuple[Config, Path]:
    """The config in `path` (or a built-in name) with `--set` overrides applied."""
    file = resolve_config_path(path)
    raw = parse_toml(read_config_text(file), str(file))
    set_keys = frozenset(apply_override(raw, item) for item in overrides)
    return config_from_dict(raw, source=str(file), set_keys=set_keys), file


def read_config_text(file: Path) -> str:
    """A config file's text: a regular UTF-8 file of at most MAX_CONFIG_BYTES."""
    if not file.is_file():
        raise RunwatchError(f"config {file} is not a regular file: give a .toml file")
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise RunwatchError(f"cannot read config {file} ({exc.strerror}): make it "
                            f"readable") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise RunwatchError(f"config {file} is larger than {MAX_CONFIG_BYTES >> 20} MiB: a "
                            f"config is a few hundred bytes of TOML; give the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunwatchError(f"config {file} is not UTF-8 text (byte {exc.start}: "
                            f"{data[exc.start:exc.start + 1]!r}): save it as UTF-8") from None


def parse_toml(text: str, source: str) -> dict:
    """TOML text as a dict; invalid or too deeply nested TOML is one line naming `source`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunwatchError(f"{source} is not valid TOML ({exc}): fix the syntax") from None
    except RecursionError:
        raise RunwatchError(f"{source} nests arrays or tables too deeply for a config: fix "
                            f"it") from None


def apply_override(raw: dict, item: str) -> str:
    """Set `section.key=value` in a raw TOML dict, the value parsed as TOML; returns the
    `section.key` set."""
    key, sep, text = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name:
        raise RunwatchError(
            f"--set {item!r} is not section.key=value: write e.g. --set optim.lr=0.1"
        )
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # an unquoted word: a string, as the user meant
    except RecursionError:
        raise RunwatchError(f"--set {key.strip()}: the value nests too deeply for a "
                            f"config") from None
    raw.setdefault(section, {})
    if not isinstance(raw[section], dict):
        raise RunwatchError(f"--set {item!r}: [{section}] is not a section")
    raw[section][name] = value
    return f"{section}.{name}"


def config_from_dict(raw: dict, source: str = "config",
                     set_keys: frozenset[str] = frozenset()) -> Config:
    """A Config from a TOML-shaped dict; refuses unknown keys, wrong types, bad values.

    Errors name `source` (the file), or `--set` for the `section.key`s in `set_keys`.
    """
    sections = {}
    for section, values in raw.items():
        if section not in _SECTION_CLASSES:
            came_from = "--set" if isinstance(values, dict) and all(
                f"{section}.{k}" in set_keys for k in values) else source
            raise RunwatchError(
                f"unknown section [{section}] in {came_from}: use {', '.join(_SECTION_CLASSES)}"
            )
        if not isinstance(values, dict):
            raise RunwatchError(f"{section} in {source} must be a [section] table")
        sections[section] = _section_from_dict(section, values, source, set_keys)
    config = Config(**sections)
    if config.data.decode == "gpu" and config.data.dataset != "imagenet":
        raise RunwatchError(f"data.decode in {source} is 'gpu', which decodes ImageNet's JPEG "
                            f"files: use it with data.dataset = \"imagenet\"")
    if config.optim.nesterov and config.optim.momentum <= 0:
        raise RunwatchError(f"optim.nesterov in {source}: nesterov needs momentum > 0; set "
                            f"optim.momentum or nesterov = false")
    try:  # range checks of the schedule, with their own messages
        schedule_spec(config)
    except ScheduleFieldError as exc:
        keys = [_SPEC_KEYS.get(f, f"schedule.{f}") for f in exc.fields]
        came_from = [k for k in keys if k in set_keys]
        where = f"--set {', '.join(came_from)}" if came_from else source
        raise RunwatchError(f"{where}: {exc}") from None
    return config


def _section_from_dict(section: str, values: dict, source: str,
                       set_keys: frozenset[str]) -> Any:
    cls = _SECTION_CLASSES[section]
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        where = f"{section}.{key} in {'--set' if f'{section}.{key}' in set_keys else source}"
        if key not in types:
            raise RunwatchError(
                f"unknown key {where}: known keys of [{section}] are {', '.join(types)}"
            )
        kwargs[key] = _check_value(section, key, value, types[key], where)
    return cls(**kwargs)


def _check_value(section: str, key: str, value: Any, type_name: str, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise RunwatchError(f"{where} is {value}: it must be a finite number")
    if type_name == "bool":
        ok = isinstance(value, bool)
    elif type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif type_name == "str":
        ok = isinstance(value, str)
    else:  # tuple[int, ...]
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        expected = {"str": "a string", "int": "an integer", "float": "a number",
                    "bool": "true or false"}.get(type_name, "a list of integers")
        raise RunwatchError(f"{where} must be {expected}, not {value!r}")
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise RunwatchError(f"{where} is {value!r}: use one of {', '.join(choices)}")
    low, high = _AT_LEAST.get((section, key)), _AT_MOST.get((section, key))
    if low is not None and value < low:
        raise RunwatchError(f"{where} is {value}: it must be at least {low}")
    if high is not None and value > high:
        raise RunwatchError(f"{where} is {value}: it must be at most {high}")
    return value


def schedule_spec(config: Config, loader_steps: int = 1) -> ScheduleSpec:
    """The LR schedule a config asks for; `loader_steps` (optimizer steps per epoch) makes it
    per-step when `schedule.step_per` is "step". Out of range: a ScheduleFieldError."""
    s = config.schedule
    return ScheduleSpec(
        name=s.name, base_lr=config.optim.lr, epochs=config.train.epochs, t0=s.t0,
        t_mult=s.t_mult, eta_min=s.eta_min, warmup_epochs=s.warmup_epochs,
        warmup_start_factor=s.warmup_start_factor, milestones=s.milestones, gamma=s.gamma,
        steps_per_epoch=loader_steps if s.step_per == "step" else 1,
    )


def config_to_dict(config: Config) -> dict:
    """The config as a plain dict (lists, not tuples): for streams and checkpoints."""
    out = dataclasses.asdict(config)
    out["schedule"]["milestones"] = list(config.schedule.milestones)
    return out


# Keys whose change between a checkpoint and the config on resume changes the training
# trajectory's optimisation (see docs/checkpoint-layout.md, "Resume rule").
def schedule_keys(config_dict: dict) -> dict[str, Any]:
    """The `[optim]`, `[schedule]` and `train.epochs` keys of a config dict, flattened."""
    flat = {f"optim.{k}": v for k, v in config_dict.get("optim", {}).items()}
    flat.update({f"schedule.{k}": v for k, v in config_dict.get("schedule", {}).items()})
    flat["train.epochs"] = config_dict.get("train", {}).get("epochs")
    return flat
