"""Models by name (torchvision's registry, plus a tiny CNN for tests) and SGD's param groups."""

from __future__ import annotations

import torch
from torch import nn

from runwatch.errors import RunwatchError
from runwatch.trainer.config import ModelConfig, OptimConfig

TINY_ARCH = "tiny_cnn"


def tiny_cnn(num_classes: int) -> nn.Module:
    """Two conv-BN-ReLU blocks and a linear head: seconds to train, for tests and benchmarks."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes),
    )


def build_model(cfg: ModelConfig) -> nn.Module:
    """A freshly initialised classifier (no pretrained weights) with `num_classes` outputs."""
    if cfg.arch == TINY_ARCH:
        return tiny_cnn(cfg.num_classes)
    import torchvision

    if cfg.arch not in torchvision.models.list_models(module=torchvision.models):
        raise RunwatchError(
            f"unknown model.arch {cfg.arch!r}: use a torchvision classification model name "
            f"(e.g. resnet50, resnet18) or {TINY_ARCH}"
        )
    return torchvision.models.get_model(cfg.arch, weights=None, num_classes=cfg.num_classes)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two SGD groups: weights decay; norm weights and biases (1-D tensors) do not."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                           momentum=cfg.momentum, nesterov=cfg.nesterov)


def set_optimizer_hyperparameters(optimizer: torch.optim.SGD, cfg: OptimConfig) -> None:
    """Apply the config's momentum, nesterov and weight decay to a loaded optimizer.

    Keeps its state (momentum buffers); the LR is the scheduler's business.
    """
    for i, group in enumerate(optimizer.param_groups):
        group["momentum"] = cfg.momentum
        group["nesterov"] = cfg.nesterov
        group["weight_decay"] = cfg.weight_decay if i == 0 else 0.0
