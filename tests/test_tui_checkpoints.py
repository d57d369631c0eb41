from tui_records import run_records

from runwatch.tui.checkpoints import (
    checkpoint_files,
    checkpoint_rows,
    epoch_from_name,
    run_dir_of,
)
from runwatch.tui.run_model import RunModel


def list_checkpoints(run_dir, model):
    return checkpoint_rows(checkpoint_files(run_dir), model)


def test_lists_checkpoint_files_with_best_marked(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("epoch-0002.pt", "epoch-0003.pt", "best.pt", "last.pt", "notes.txt"):
        (folder / name).write_bytes(b"0" * 2_000_000)
    model = RunModel()
    records = run_records(3)
    records[2]["test_acc1"] = 99.0  # epoch 2 is the best
    model.apply(records + [{"type": "checkpoint", "epoch": 3, "path": str(folder / "last.pt"),
                            "is_best": False}])
    rows = {row.path.name: row for row in list_checkpoints(tmp_path, model)}
    assert set(rows) == {"epoch-0002.pt", "epoch-0003.pt", "best.pt", "last.pt"}
    assert rows["best.pt"].is_best and rows["best.pt"].epoch == 2
    assert rows["epoch-0002.pt"].is_best and not rows["epoch-0003.pt"].is_best
    assert rows["last.pt"].epoch == 3 and not rows["last.pt"].is_best
    assert rows["epoch-0002.pt"].test_acc1 == 99.0 and rows["last.pt"].size_mb == 2.0


def test_no_folder_and_run_dir_of(tmp_path):
    assert list_checkpoints(tmp_path, RunModel()) == []
    stream = tmp_path / "metrics.jsonl"
    stream.write_text("")
    assert run_dir_of(stream) == tmp_path and run_dir_of(tmp_path) == tmp_path


def test_last_pt_takes_its_epoch_from_the_files_the_trainer_names(tmp_path):
    # The trainer's record names the epoch file as `path` and its copies in `files`.
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("epoch-0003.pt", "epoch-0004.pt", "last.pt"):
        (folder / name).write_bytes(b"0")
    model = RunModel()
    model.apply(run_records(4) + [
        {"type": "checkpoint", "epoch": e, "path": str(folder / f"epoch-{e:04d}.pt"),
         "is_best": False, "files": [f"epoch-{e:04d}.pt", "last.pt"]} for e in (3, 4)])
    rows = {row.path.name: row for row in list_checkpoints(tmp_path, model)}
    assert rows["last.pt"].epoch == 4


def test_the_epoch_in_a_name_is_the_one_after_its_word_not_a_free_names_suffix():
    # Issue 9: rewind-from-0003-2.pt (the second rewind to epoch 3) was labelled epoch 2.
    assert epoch_from_name("rewind-from-0003-2.pt") == 3
    assert epoch_from_name("epoch-0030-edited-2.pt") == 30
    assert epoch_from_name("checkpoint-12.pth") == 12  # timm
    assert epoch_from_name("epoch=3-step=100.ckpt") == 3  # Lightning
    assert epoch_from_name("model_best.pth") is None and epoch_from_name("resnet50.pt") is None
