"""Models by name and SGD's param groups."""

from __future__ import annotations

import pytest

from runwatch.errors import RunwatchError
from runwatch.trainer.config import ModelConfig, OptimConfig
from runwatch.trainer.model import build_model, build_optimizer, set_optimizer_hyperparameters


def test_no_weight_decay_on_norm_weights_and_biases():
    model = build_model(ModelConfig("resnet18", 10))
    optimizer = build_optimizer(model, OptimConfig(lr=0.1, weight_decay=5e-4, nesterov=True))
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert "bn1.weight" in skipped and "fc.bias" in skipped and "fc.weight" not in skipped
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    set_optimizer_hyperparameters(optimizer, OptimConfig(momentum=0.5, weight_decay=1e-3))
    assert [g["weight_decay"] for g in optimizer.param_groups] == [1e-3, 0.0]
    assert optimizer.param_groups[1]["momentum"] == 0.5


def test_unknown_arch_is_refused():
    with pytest.raises(RunwatchError, match="unknown model.arch 'resnet5'"):
        build_model(ModelConfig("resnet5", 10))


def test_the_tiny_cnns_size_is_the_one_the_docs_and_the_demo_config_give():
    # The docs said 38k parameters for a model of 5.5k (a user sizing the demo reads them).
    import re
    from pathlib import Path

    model = build_model(ModelConfig("tiny_cnn", 10))
    size = f"{sum(p.numel() for p in model.parameters()) / 1000:.1f}k parameters"
    root = Path(__file__).resolve().parents[1]
    for doc in (root / "docs" / "trainer.md", root / "configs" / "smoke_cpu.toml"):
        said = re.findall(r"[\d.]+k parameters", doc.read_text())
        assert said == [size], doc.name
