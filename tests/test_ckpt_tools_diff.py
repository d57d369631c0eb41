"""diff reports structure and fields always, tensor bytes only when asked."""

from __future__ import annotations

import torch

from runwatch.ckpt_tools import diff_checkpoints


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


def test_an_empty_list_that_the_other_side_filled_is_not_only_in_one(tmp_path):
    # A runwatch checkpoint before and after `ckpt edit`: `edits` is [] in A, one record in B.
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save({"edits": [], "epoch": 6}, a)
    torch.save({"edits": [{"mode": "restart", "changes": {"t0": [6, 18]}}], "epoch": 6}, b)
    d = diff_checkpoints(a, b)
    assert d.only_in_a == []
    assert d.only_in_b == ["edits.0.changes.t0", "edits.0.mode"]
    assert not d.same
