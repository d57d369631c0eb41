"""Wrong types anywhere in a checkpoint's tree are one-line errors, never tracebacks: random
mutations of real checkpoints of each layout, read, inspected and planned."""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import random

import pytest
import torch
from ckpt_builders import sgd, tiny_model, torchvision_checkpoint
from handwritten_loops import run
from torch.optim import lr_scheduler as L

from runwatch.ckpt_tools.inspect import summarize_model, summarize_optimizer
from runwatch.ckpt_tools.layouts import detect
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.ckpt_tools.plan import EditRequest, plan_loaded
from runwatch.ckpt_tools.preview import TABLE_EPOCHS
from runwatch.errors import RunwatchError

JUNK = [None, "x", -1, 0, 2**70, 1e308, float("inf"), float("nan"), [], {}, [None], {"a": 1},
        True, (1, 2), [1.5, "y"], -0.5]
MUTATIONS = 150


def _lightning_like(path):
    model = tiny_model()
    opt = sgd(model)
    sched = L.SequentialLR(opt, [L.LinearLR(opt, 0.1, total_iters=2),
                                 L.OneCycleLR(opt, max_lr=0.5, total_steps=40)], milestones=[2])
    for _ in range(5):
        opt.step()
        sched.step()
    torch.save({"state_dict": model.state_dict(), "optimizer_states": [opt.state_dict()],
                "lr_schedulers": [sched.state_dict()], "epoch": 4, "global_step": 5,
                "loops": {"fit_loop": {"epoch_progress": {"current": {"processed": 5}}}},
                "callbacks": {"cb": {"best_model_score": torch.tensor(0.5)}}}, path)
    return path


@dataclasses.dataclass
class TrainingArguments:  # pickled like transformers' (a dataclass), read as inert data
    learning_rate: float = 0.1
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = 4
    max_steps: int = 20


def _trainer_folder(folder):
    model = tiny_model()
    opt = sgd(model)
    sched = L.LambdaLR(opt, lambda step: 1.0)
    for _ in range(8):
        opt.step()
        sched.step()
    folder.mkdir()
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    torch.save(sched.state_dict(), folder / "scheduler.pt")
    torch.save(TrainingArguments(), folder / "training_args.bin")
    (folder / "trainer_state.json").write_text(json.dumps(
        {"epoch": 2.0, "global_step": 8, "max_steps": 20, "log_history": []}))
    return folder


def _timm_like(path):
    model = tiny_model()
    opt = sgd(model)
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    args = argparse.Namespace(sched="cosine", epochs=12, lr=0.05, min_lr=1e-4, warmup_epochs=2,
                              warmup_lr=1e-3, lr_cycle_limit=1, lr_cycle_decay=0.5)
    torch.save({"epoch": 3, "arch": "tiny", "state_dict": model.state_dict(),
                "optimizer": opt.state_dict(), "version": 2, "args": args, "metric": 1.0}, path)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    run("nested", lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2), 3, folder,
        per_step=True)
    run("tutorial", lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=2),
                                                 L.ExponentialLR(o, 0.9)]), 3, folder)
    return [torchvision_checkpoint(folder / "tv.pth", 5), _lightning_like(folder / "pl.ckpt"),
            folder / "epoch-2.pt", _trainer_folder(folder / "checkpoint-8"),
            _timm_like(folder / "timm.pth.tar")]


def _places(obj, path=()):
    """(container, key) of every value in the tree that is not inside a tensor."""
    out = []
    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)  # its fields are set through the dict the pickle filled
    items = obj.items() if isinstance(obj, dict) else (
        enumerate(obj) if isinstance(obj, list) else ())
    for key, value in items:
        out.append((obj, key))
        if not isinstance(value, TensorRef):
            out += _places(value, (*path, key))
    return out


def _exercise(loaded) -> None:
    view = detect(loaded)
    summarize_model(view.model)
    summarize_optimizer(view)
    for step in (lambda: view.layout.preview(view, TABLE_EPOCHS),
                 lambda: plan_loaded(loaded, EditRequest(lr=0.05, epochs=20, oracle=False)),
                 lambda: plan_loaded(loaded, EditRequest(continuity="match-lr", oracle=False))):
        with contextlib.suppress(RunwatchError):
            step()


def test_random_mutations_never_raise_anything_but_a_one_line_error(sources):
    rng = random.Random(11)
    failures = []
    for i in range(MUTATIONS):
        src = sources[i % len(sources)]
        loaded = load_checkpoint(src, check_crc=False)
        container, key = rng.choice(_places(loaded.obj))
        if rng.random() < 0.15 and isinstance(container, dict):
            del container[key]
        else:
            container[key] = copy.deepcopy(rng.choice(JUNK))
        try:
            _exercise(loaded)
        except RunwatchError as exc:
            assert "\n" not in str(exc)
        except Exception as exc:  # a traceback a user would see
            failures.append(f"{src.name}[{key!r}] -> {type(exc).__name__}: {exc}")
    assert failures == []
