"""diff reports structure and fields always, tensor bytes only when asked."""

from __future__ import annotations

import json
import zipfile

import torch

from runwatch.ckpt_tools import diff_checkpoints
from runwatch.cli import main


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


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_values_of_a_hugging_face_folder_are_refused_in_one_line(tmp_path, capsys):
    # Its tensors live in optimizer.pt and scheduler.pt, not in the folder's own archive.
    folder = tmp_path / "checkpoint-6"
    folder.mkdir()
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
    opt.state[opt.param_groups[0]["params"][0]] = {"momentum_buffer": torch.ones(2, 2)}
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    (folder / "trainer_state.json").write_text(json.dumps({"epoch": 1.0, "global_step": 6}))
    assert main(["ckpt", "diff", str(folder), str(folder)]) == 0
    capsys.readouterr()
    assert main(["ckpt", "diff", str(folder), str(folder), "--values"]) == 2
    assert "diff those files with --values" in _one_line_error(capsys)


def test_values_with_a_missing_tensor_record_are_refused_in_one_line(tmp_path, capsys):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save({"w": torch.ones(3), "v": torch.zeros(2)}, a)
    with zipfile.ZipFile(a) as src, zipfile.ZipFile(b, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("data/1"):
                dst.writestr(info.filename.replace("a/", "b/", 1), src.read(info))
    assert main(["ckpt", "diff", str(a), str(b), "--values"]) == 2
    assert "has no record 'b/data/1'" in _one_line_error(capsys)
