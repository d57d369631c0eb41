"""The plain-text reports the CLI prints."""

from __future__ import annotations

import torch
from ckpt_builders import torchvision_checkpoint

from runwatch.ckpt_tools.diff import CheckpointDiff
from runwatch.ckpt_tools.report import format_diff, grouped
from runwatch.cli import main

# OSC 52 (write the clipboard), then clear the screen and set the window title.
ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b]0;pwned\x07"


def test_keys_under_one_list_entry_fold_into_one_line():
    keys = ["edits.0.mode", "edits.0.time", "edits.0.to_schedule.t0", "extra",
            "model.layer1.0.conv1.weight"]
    assert grouped(keys) == ["edits.0 (3 fields)", "extra", "model.layer1.0.conv1.weight"]


def test_a_diff_with_an_edit_record_reads_in_a_few_lines():
    d = CheckpointDiff("a.pt", "b.pt", ["runwatch", "runwatch"],
                       only_in_b=[f"edits.0.to_schedule.{k}" for k in "abcdefghij"],
                       changed=[{"key": "schedule.t0", "a": 6, "b": 18}])
    assert format_diff(d).splitlines()[1:] == ["  only in B: edits.0 (10 fields)",
                                               "  schedule.t0: 6 -> 18"]


def test_escape_sequences_from_a_checkpoint_are_shown_never_sent_to_the_terminal(tmp_path,
                                                                                capsys):
    plain = torchvision_checkpoint(tmp_path / "plain.pth", 3)
    tree = torch.load(plain, weights_only=False)  # our own file
    tree["lr_scheduler"][ESCAPES] = ESCAPES  # a key and a string value
    tree["optimizer"]["state"][0][ESCAPES] = torch.ones(1)  # a buffer name
    tree["epoch\nepochs done: 999"] = 1  # a newline that would fake a report line
    hostile = tmp_path / "hostile.pth"
    torch.save(tree, hostile)
    for args in (["inspect", str(hostile)], ["diff", str(plain), str(hostile)],
                 ["edit", str(hostile), "--t0", "5", "--dry-run"]):
        assert main(["ckpt", *args]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out, args
        if args[0] != "edit":
            assert "\\x1b]52;c;ZXZpbA==\\x07" in out  # shown, escaped
    assert main(["ckpt", "diff", str(plain), str(hostile)]) == 0
    assert "epochs done: 999" not in capsys.readouterr().out.splitlines()
