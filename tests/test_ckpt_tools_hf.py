"""Hugging Face Trainer checkpoint folders, written and resumed by the real Trainer: inspect
says where each part comes from on resume, and an edit of the peak LR and the length resumes
step for step with its preview when the printed TrainingArguments are passed."""

from __future__ import annotations

import hashlib

import pytest
import torch
from ckpt_builders import Payload
from hf_runs import train

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.errors import RunwatchError

ARGS = dict(learning_rate=0.1, max_steps=20, lr_scheduler_type="cosine", warmup_steps=4,
            save_steps=8)


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf")
    return folder, train(folder, **ARGS)


def _digests(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_inspect_says_where_each_part_comes_from(hf_run):
    folder, lrs = hf_run
    info = inspect_checkpoint(folder / "checkpoint-8")
    assert info.layout == "hf-trainer" and info.scheduler_type == "LambdaLR"
    assert info.unit == "optimizer step" and (info.epochs_done, info.global_step) == (2, 8)
    assert info.next_steps == pytest.approx(lrs[8:20], rel=1e-12)  # to max_steps, no further
    assert info.last_lr == pytest.approx(lrs[7], rel=1e-12)
    assert "base_lrs" in info.schedule_source and "TrainingArguments" in info.schedule_source
    assert any("TrainingArguments, read as data" in f for f in info.found)


def test_a_new_learning_rate_alone_is_ignored_on_resume(hf_run, tmp_path):
    folder, lrs = hf_run
    ignored = train(tmp_path, resume=folder / "checkpoint-8", **(ARGS | {"learning_rate": 0.02}))
    assert ignored == pytest.approx(lrs[8:20], rel=1e-12)


def test_edit_of_peak_and_length_resumes_with_the_preview(hf_run, tmp_path):
    folder, _ = hf_run
    src = folder / "checkpoint-8"
    before = _digests(src)
    plan = plan_edit(src, EditRequest(lr=0.05, total_steps=30))
    assert plan.oracle.startswith("transformers")
    assert "learning_rate=0.05" in plan.resume_hint and "max_steps=30" in plan.resume_hint
    out = write_edit(plan, tmp_path / "checkpoint-8")
    assert _digests(src) == before  # the input folder is untouched
    resumed = train(tmp_path / "run", resume=out, **(ARGS | plan.new_args))
    assert resumed == pytest.approx(plan.steps_after, rel=1e-12)
    assert len(resumed) == 22
    again = inspect_checkpoint(out)
    assert again.next_steps == pytest.approx(plan.steps_after[:len(again.next_steps)])
    assert again.last_lr == pytest.approx(plan.last_lr)


def test_training_args_are_read_as_data_never_run(hf_run, tmp_path):
    folder, _ = hf_run
    copy = tmp_path / "checkpoint-8"
    copy.mkdir()
    for p in (folder / "checkpoint-8").iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    torch.save(Payload(tmp_path / "pwned"), copy / "training_args.bin")
    with pytest.raises(RunwatchError, match="TrainingArguments"):
        inspect_checkpoint(copy)
    assert not (tmp_path / "pwned").exists()


# Every other lr_scheduler_type the layout models, `linear` (the Trainer's default) first:
# inspect's preview is the LRs the real Trainer used after the save, and an edit of the peak
# and length resumes in the real Trainer step for step with its preview.
OTHER_TYPES = [
    dict(lr_scheduler_type="linear", warmup_steps=2),
    dict(lr_scheduler_type="constant_with_warmup", warmup_steps=3),
    dict(lr_scheduler_type="cosine_with_restarts", warmup_steps=2,
         lr_scheduler_kwargs={"num_cycles": 2}),
    dict(lr_scheduler_type="cosine_with_min_lr", warmup_steps=2,
         lr_scheduler_kwargs={"min_lr_rate": 0.1}),
    dict(lr_scheduler_type="constant"),
]


@pytest.mark.parametrize("shape", OTHER_TYPES, ids=lambda s: s["lr_scheduler_type"])
def test_other_schedule_types_preview_and_edit_as_the_trainer_resumes(shape, tmp_path):
    args = dict(learning_rate=0.1, max_steps=12, save_steps=4) | shape
    lrs = train(tmp_path / "run", **args)
    src = tmp_path / "run" / "checkpoint-4"
    assert inspect_checkpoint(src).next_steps == pytest.approx(lrs[4:12], rel=1e-12)
    plan = plan_edit(src, EditRequest(lr=0.05, total_steps=16))
    out = write_edit(plan, tmp_path / "edited")
    resumed = train(tmp_path / "resumed", resume=out, **(args | plan.new_args))
    assert resumed == pytest.approx(plan.steps_after, rel=1e-12)
    assert len(resumed) == 12
