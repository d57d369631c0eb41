"""inspect summarises what a checkpoint holds and the LRs it will really resume with."""

from __future__ import annotations

import torch
from ckpt_builders import tiny_model, torchvision_checkpoint

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
