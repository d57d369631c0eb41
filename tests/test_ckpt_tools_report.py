"""The plain-text reports the CLI prints."""

from __future__ import annotations

from runwatch.ckpt_tools.diff import CheckpointDiff
from runwatch.ckpt_tools.report import format_diff, grouped


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
