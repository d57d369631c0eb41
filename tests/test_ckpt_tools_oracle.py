"""The oracle replays every edit in the real library and refuses a preview it disagrees with;
without torch it says it did not run."""

from __future__ import annotations

import pytest
from torchvision_reference import reference_args, train

from runwatch.ckpt_tools import EditRequest, plan_edit, sched_forms, schedulers, write_edit
from runwatch.ckpt_tools import oracle as oracle_module
from runwatch.cli import main
from runwatch.errors import RunwatchError


@pytest.fixture(scope="module")
def steplr_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oracle")
    train(reference_args(lr_scheduler="steplr", lr_step_size=3, lr_gamma=0.5), folder,
          stop_epoch=4)
    return folder / "model_3.pth"


def _wrong_steplr(monkeypatch):
    """A model of StepLR that is wrong the same way in its steps and its closed form (gamma
    squared): the torch-free checks agree with themselves, only torch can tell."""
    closed, chainable = schedulers.closed_form, schedulers._chainable

    def squared(kind, f):
        return dict(f, gamma=f["gamma"] ** 2) if kind == "StepLR" else f

    monkeypatch.setattr(schedulers, "closed_form",
                        lambda kind, f, base, e: closed(kind, squared(kind, f), base, e))
    monkeypatch.setattr(sched_forms, "closed_form",
                        lambda kind, f, base, e: closed(kind, squared(kind, f), base, e))
    monkeypatch.setattr(schedulers, "_chainable",
                        lambda kind, f, lrs: chainable(kind, squared(kind, f), lrs))


def test_a_wrong_model_is_refused_by_the_oracle_and_nothing_is_written(steplr_ckpt, tmp_path,
                                                                        monkeypatch, capsys):
    _wrong_steplr(monkeypatch)
    with pytest.raises(RunwatchError, match="oracle .* gives LR .* the preview says"):
        plan_edit(steplr_ckpt, EditRequest(lr=0.05))
    out = tmp_path / "o.pth"
    assert main(["ckpt", "edit", str(steplr_ckpt), "-o", str(out), "--lr", "0.05",
                 "--yes"]) == 2
    assert "oracle" in capsys.readouterr().err and not out.exists()


def test_without_torch_the_oracle_says_it_did_not_run(steplr_ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(oracle_module, "available", lambda module="torch": False)
    plan = plan_edit(steplr_ckpt, EditRequest(lr=0.05))
    assert plan.oracle.startswith("not run: torch is not installed")
    write_edit(plan, tmp_path / "o.pth")


def test_no_oracle_skips_it_and_says_so(steplr_ckpt, capsys):
    assert main(["ckpt", "edit", str(steplr_ckpt), "--lr", "0.05", "--dry-run",
                 "--no-oracle"]) == 0
    assert "oracle: not run (--no-oracle)" in capsys.readouterr().out
