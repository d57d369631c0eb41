"""Hostile Hugging Face Trainer folders: `ckpt inspect` says what is wrong in one line (exit 2)
instead of a RecursionError, AttributeError, OverflowError, TypeError or a 1 GB allocation."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from ckpt_builders import tiny_model
from safetensors.torch import save_file
from torch.optim.lr_scheduler import LambdaLR

from runwatch.cli import main

STATE = {"epoch": 2.0, "global_step": 500, "best_metric": 0.71, "log_history": []}


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / "checkpoint-500"
    folder.mkdir()
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    torch.save(LambdaLR(opt, lambda step: 1 - step / 100).state_dict(), folder / "scheduler.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              folder / "model.safetensors")
    (folder / "trainer_state.json").write_text(json.dumps(STATE))
    return folder


def _state(**changes: object) -> bytes:
    return json.dumps(STATE | changes).encode()


def _header(header: bytes, claimed: int | None = None) -> bytes:
    return struct.pack("<Q", len(header) if claimed is None else claimed) + header + b"\0" * 8


def _entry(**fields: object) -> bytes:
    return json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]} | fields}
                      ).encode()


HOSTILE = {
    "trainer_state.json 100k-deep": ("trainer_state.json", b"[" * 100_000 + b"]" * 100_000,
                                     "content is nested too deeply"),
    "trainer_state.json 500-deep": ("trainer_state.json", _state(log_history="X").replace(
        b'"X"', b"[" * 500 + b"]" * 500), "nesting deeper than 100 levels"),
    "trainer_state.json a list": ("trainer_state.json", b"[1, 2]", "holds a JSON list"),
    "epoch NaN": ("trainer_state.json", _state(epoch="X").replace(b'"X"', b"NaN"),
                  "NaN is not a JSON number"),
    "epoch 1e400": ("trainer_state.json", _state(epoch="X").replace(b'"X"', b"1e400"),
                    "1e400 is too large for a number"),
    "header claims 2**63 bytes": ("model.safetensors", _header(b"{}", 2**63),
                                  "its header claims 9223372036854775808 bytes"),
    "header claims 1 GB": ("model.safetensors", _header(b"{}", 1 << 30),
                           "its header claims 1073741824 bytes; the file has 10"),
    "header a list": ("model.safetensors", _header(b"[1]"), "header is a JSON list"),
    "header 100k-deep": ("model.safetensors", _header(b'{"w": ' + b"[" * 100_000
                                                      + b"]" * 100_000 + b"}"),
                         "header is nested too deeply"),
    "shape of strings": ("model.safetensors", _header(_entry(shape=["a"])),
                         "tensor 'w' has a header entry safetensors never writes"),
    "offsets past the data": ("model.safetensors", _header(_entry(data_offsets=[0, 2**42])),
                              "tensor 'w' has a header entry"),
    "offsets reversed": ("model.safetensors", _header(_entry(data_offsets=[8, 0])),
                         "tensor 'w' has a header entry"),
    "entry a number": ("model.safetensors", _header(b'{"w": 3}'), "tensor 'w' has a header"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_hf_folder_is_one_line(hf_folder, kind, tmp_path, capsys):
    name, content, fragment = HOSTILE[kind]
    folder = tmp_path / "checkpoint-500"
    folder.mkdir()
    for src in hf_folder.iterdir():
        (folder / src.name).write_bytes(content if src.name == name else src.read_bytes())
    assert main(["ckpt", "inspect", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and fragment in err, err


def test_a_real_hf_folder_still_inspects(hf_folder, capsys):
    assert main(["ckpt", "inspect", str(hf_folder)]) == 0
    assert "model: 4 tensors, 67 values" in capsys.readouterr().out
