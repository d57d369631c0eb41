"""torchvision's reference train.py (its mirror, tests/torchvision_reference.py): each of its
schedulers (steplr, cosineannealinglr, exponentiallr) without warmup and with its linear and
constant warmups. inspect must preview the LRs the script really uses after --resume; an
edit of the knobs it has must resume, through the script's own resume lines, with the
previewed LRs."""

from __future__ import annotations

import pytest
from torchvision_reference import reference_args, train

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit

# (scheduler, warmup method, warmup epochs, epochs done at the checkpoint, the edit).
CASES = [
    ("steplr", None, 0, 6, EditRequest(step_size=3, gamma=0.2)),
    ("steplr", "linear", 3, 6, EditRequest(lr=0.05, warmup=2)),
    ("steplr", "constant", 3, 2, EditRequest(gamma=0.5, continuity="restart")),
    ("cosineannealinglr", None, 0, 6, EditRequest(epochs=20)),
    ("cosineannealinglr", "linear", 3, 6, EditRequest(epochs=20,
                                                       continuity="anneal-from-current")),
    ("cosineannealinglr", "constant", 3, 2, EditRequest(lr=0.2, eta_min=1e-3)),
    ("exponentiallr", None, 0, 6, EditRequest(gamma=0.8, continuity="match-lr")),
    ("exponentiallr", "linear", 3, 2, EditRequest(warmup=5)),
    ("exponentiallr", "constant", 3, 6, EditRequest(lr=0.05)),
]


def _args(scheduler: str, method: str | None, warmup: int, **changes):
    return reference_args(lr_scheduler=scheduler, lr_warmup_epochs=warmup, lr_step_size=4,
                          lr_gamma=0.7, lr_warmup_method=method or "constant",
                          lr_warmup_decay=0.01 if method == "constant" else 0.1, **changes)


@pytest.mark.parametrize("scheduler,method,warmup,done,request_", CASES,
                         ids=[f"{c[0]}-{c[1] or 'no'}-warmup" for c in CASES])
def test_reference_script_resumes_with_the_preview(tmp_path, scheduler, method, warmup, done,
                                                   request_):
    full = train(_args(scheduler, method, warmup), tmp_path)  # all 12 epochs, every file kept
    src = tmp_path / f"model_{done - 1}.pth"
    info = inspect_checkpoint(src)
    assert info.layout == "torchvision" and info.epochs_done == done
    assert info.next_lrs == pytest.approx(full[done:done + 10], rel=1e-12)
    assert info.last_lr == pytest.approx(full[done - 1], rel=1e-12)
    assert all(j["epoch"] > warmup + 1 for j in info.jumps)  # a warmup's end is not a jump

    plan = plan_edit(src, request_)
    assert plan.oracle.startswith("torch")
    out = write_edit(plan, tmp_path / "edited.pth")
    epochs = request_.epochs or 12
    (tmp_path / "resumed").mkdir()
    resumed = train(_args(scheduler, method, warmup, epochs=epochs), tmp_path / "resumed",
                    resume=out)
    assert resumed[:len(plan.lr_after)] == pytest.approx(plan.lr_after, rel=1e-12)
    assert len(plan.lr_after) == min(10, epochs - done)  # no preview past the planned total
    if plan.mode == "restart" and warmup:
        assert plan.lr_after[0] == pytest.approx(0.1 * 0.01)  # the warmup runs again


def test_the_resume_hint_names_the_flags_the_script_builds_its_scheduler_from(tmp_path):
    train(_args("cosineannealinglr", "linear", 3), tmp_path, stop_epoch=4)
    plan = plan_edit(tmp_path / "model_3.pth", EditRequest(epochs=30))
    assert "--lr-scheduler cosineannealinglr --lr-warmup-epochs 3 --lr-warmup-method linear " \
           "--epochs 30" in plan.resume_hint


def test_a_torchvision_style_file_stepped_every_batch_is_read_and_edited_per_step(tmp_path):
    # The reference steps once per epoch; a copy of its loop that steps every batch saves the
    # same dict, and its last_epoch (4 x the epochs done) says so.
    import torch
    from ckpt_builders import sgd, tiny_model, train_epoch

    def run(epochs, resume=None):
        model = tiny_model()
        opt = sgd(model, lr=0.1)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40)
        start = 0
        if resume is not None:
            ckpt = torch.load(resume, weights_only=False)  # our own file
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["lr_scheduler"])
            start = ckpt["epoch"] + 1
        lrs = []
        for epoch in range(start, epochs):
            for _ in range(4):
                lrs.append(train_epoch(model, opt))
                sched.step()
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "lr_scheduler": sched.state_dict(), "epoch": epoch,
                        "args": reference_args(lr_scheduler="cosineannealinglr", epochs=10)},
                       tmp_path / f"model_{epoch}.pth")
        return lrs

    full = run(10)
    info = inspect_checkpoint(tmp_path / "model_2.pth")
    assert info.unit == "optimizer step" and "stepped 4 times per epoch" in info.stepping
    assert info.next_lrs == pytest.approx(full[12::4], rel=1e-12)  # to --epochs 10
    plan = plan_edit(tmp_path / "model_2.pth", EditRequest(epochs=20))
    assert plan.changes["T_max"] == [40, 80]
    out = write_edit(plan, tmp_path / "edited.pth")
    resumed = run(20, resume=out)  # the loop's own resume lines, every batch stepped
    assert len(plan.steps_after) > 4
    assert resumed[:len(plan.steps_after)] == pytest.approx(plan.steps_after, rel=1e-12)
