"""diff reports structure and fields always, tensor bytes only when asked."""

from __future__ import annotations

import torch

from ckpt_tools import diff_checkpoints


def test_values_compared_only_with_values_flag(tmp_path):
    a, b, c = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    w = torch.arange(12.0).reshape(3, 4)
    torch.save({"w": w, "epoch": 3}, a)
    changed = w.clone()
    changed[2, 3] += 1
    torch.save({"w": changed, "epoch": 3}, b)
    torch.save({"w": w.half(), "epoch": 4, "extra": 1}, c)
    assert diff_checkpoints(a, b).same
    d = diff_checkpoints(a, b, values=True)
    assert d.tensor_values_differ == ["w"] and d.tensors_compared == 1
    assert diff_checkpoints(a, a, values=True).same
    d = diff_checkpoints(a, c)
    assert d.only_in_b == ["extra"]
    assert {x["key"] for x in d.changed} == {"w", "epoch"}
