"""inspect summarises what a checkpoint holds and the LRs it will really resume with."""

from __future__ import annotations

import torch
from ckpt_builders import tiny_model, torchvision_args, torchvision_checkpoint

from runwatch.ckpt_tools import inspect_checkpoint
from runwatch.ckpt_tools.report import format_info


def test_editing_only_t0_changes_nothing_the_scheduler_uses(tmp_path):
    """DOMAIN.md: with plain step() the period in use is T_i, so T_0 alone does nothing."""
    src = torchvision_checkpoint(tmp_path / "a.pth", 30)
    ckpt = torch.load(src, weights_only=False)  # our own file
    ckpt["lr_scheduler"]["T_0"] = 100
    torch.save(ckpt, tmp_path / "b.pth")
    before, after = inspect_checkpoint(src), inspect_checkpoint(tmp_path / "b.pth")
    assert after.next_lrs == before.next_lrs
    assert after.next_lrs[0] == 0.05 and after.jumps[0]["epoch"] == 31


def test_a_finished_per_epoch_run_says_epochs_and_the_edit_of_its_own_path(tmp_path):
    folder = tmp_path / "my runs\x1b[31m"
    folder.mkdir()
    done = torchvision_checkpoint(folder / "model_9.pth", 10, args=torchvision_args(epochs=10))
    note = inspect_checkpoint(done).lr_note
    assert note.startswith("all 10 planned epochs are trained")
    shown = str(done).replace("\x1b", "\\x1b")  # escaped, then quoted for the shell
    assert f"`runwatch ckpt edit '{shown}' --epochs N --dry-run`" in note


def test_model_summary_reports_prefixes_dtypes_and_bytes(tmp_path):
    state = {f"module.{k}": v for k, v in tiny_model().state_dict().items()}
    state["module.0.weight"] = state["module.0.weight"].half()
    torch.save(state, tmp_path / "ddp.pt")
    info = inspect_checkpoint(tmp_path / "ddp.pt")
    assert info.layout == "state_dict" and info.model.key_prefixes == ["module."]
    assert info.model.dtypes == {"float16": 1, "float32": 3}
    assert info.model.parameters == 4 * 8 + 8 + 8 * 3 + 3
    assert info.model.bytes == 4 * 8 * 2 + (8 + 8 * 3 + 3) * 4
    assert info.optimizer is None and "no optimizer" in info.lr_note


def test_a_runwatch_run_finished_or_stopped_mid_epoch_reads_as_such(tmp_path):
    # The last checkpoint of a completed run: an "epoch 5" LR (with a restart jump) after a
    # 4-epoch plan would describe an epoch that will never run.
    from trainer_tiny import tiny_config

    from runwatch.trainer.train import run

    run(tiny_config(), tmp_path)
    info = inspect_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert info.epochs_done == 4 and info.next_lrs == [] and info.jumps == []
    assert "all 4 planned epochs are trained" in info.lr_note and "--epochs N" in info.lr_note
    earlier = inspect_checkpoint(tmp_path / "checkpoints" / "epoch-0003.pt")
    assert len(earlier.next_lrs) == 1  # epoch 4 only
    assert earlier.step_in_epoch == 0
    # last.pt of a run stopped by SIGTERM inside epoch 4, after its step 5.
    saved = torch.load(tmp_path / "checkpoints" / "epoch-0003.pt", weights_only=True)
    saved["step_in_epoch"] = 5
    torch.save(saved, tmp_path / "stopped.pt")
    stopped = inspect_checkpoint(tmp_path / "stopped.pt")
    assert (stopped.epochs_done, stopped.step_in_epoch) == (3, 5)
    assert "stopped inside epoch 4, after its step 5" in format_info(stopped)
    assert "stopped inside" not in format_info(earlier)


def test_adam_is_adamw_only_where_the_file_says_so():
    # Adam with weight decay is not AdamW: torch >= 2.6 records decoupled_weight_decay; an
    # older file does not say which of the two wrote it.
    from runwatch.ckpt_tools.tree import optimizer_kind

    params = [torch.nn.Parameter(torch.zeros(1))]
    adam = torch.optim.Adam(params, weight_decay=0.05).state_dict()["param_groups"][0]
    adamw = torch.optim.AdamW(params).state_dict()["param_groups"][0]
    assert optimizer_kind(adam) == "Adam" and optimizer_kind(adamw) == "AdamW"
    old = {k: v for k, v in adamw.items() if k != "decoupled_weight_decay"}
    assert optimizer_kind(old).startswith("Adam-family")
    nadam = torch.optim.NAdam(params).state_dict()["param_groups"][0]
    assert optimizer_kind(nadam) == "NAdam"


def test_a_tensor_lr_is_shown_and_refused_for_edits_without_a_traceback(tmp_path, capsys):
    import json

    from runwatch.cli import main

    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    sched.step()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": 1}, tmp_path / "tensor_lr.pt")
    assert main(["ckpt", "inspect", str(tmp_path / "tensor_lr.pt"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "tensor" in info["lr_note"] and "tensor" in info["optimizer"]["param_groups"][0]["lr"]
    assert main(["ckpt", "edit", str(tmp_path / "tensor_lr.pt"), "-o", str(tmp_path / "o.pt"),
                 "--lr", "0.1", "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tensor" in err[0]
    assert not (tmp_path / "o.pt").exists()


def test_verify_replays_the_stored_scheduler_in_torch(tmp_path):
    src = torchvision_checkpoint(tmp_path / "a.pth", 30)
    info = inspect_checkpoint(src, verify=True)
    assert info.oracle.startswith("torch") and "the same LRs" in info.oracle
    assert inspect_checkpoint(src).oracle == ""  # torch-free by default
