"""`runwatch forecast` and `runwatch report` on our stream, the seed CSV and foreign logs."""

import json

import pytest

from runwatch.cli import main

SEED = "tests/data/seed_run/epochs.csv"
DEIT = "tests/data/foreign/deit_style_log_txt/repvit_m0_9_distill_300e.txt"
JSON_STATS = "tests/data/foreign/json_stats_log_txt/vgg_log.txt"


def run_json(capsys, *argv):
    assert main(["forecast", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_seed_csv_with_the_seed_plan_flags_the_restart(capsys):
    data = run_json(capsys, SEED, "--plan", "seed", "--upto", "23", "--target", "75")
    assert data["target"] == 75.0 and len(data["predictions"]) == 77
    restart = next(e for e in data["events"] if e["kind"] == "lr_restart")
    assert restart["epoch"] == 31 and restart["predicted_drop"] > 10
    assert {s["name"] for s in data["scenarios"]} >= {"continue as planned",
                                                     "anneal from current LR"}


def test_seed_csv_without_a_plan_still_answers_and_says_why(capsys):
    data = run_json(capsys, SEED)
    assert data["predictions"] and any("--plan" in n for n in data["notes"])


def test_json_stats_log_brings_its_own_plan(capsys):
    data = run_json(capsys, JSON_STATS, "--upto", "100")
    assert data["last_epoch"] == 100 and data["predictions"][-1]["epoch"] == 200
    assert [e["epoch"] for e in data["events"] if e["kind"] == "lr_drop"] == [120, 160]
    assert any(m["group"] == "schedule" and m["weight"] > 0 for m in data["models"])


def test_deit_log_cut_with_upto_uses_its_logged_lrs_as_the_plan(capsys):
    data = run_json(capsys, DEIT, "--upto", "75")
    assert data["last_epoch"] == 75 and data["predictions"][-1]["epoch"] == 300
    assert any("the LRs the log records" in n for n in data["notes"])
    assert data["predictions"][-1]["acc1"] > data["last_acc1"] + 3  # the anneal ahead


def test_text_output_summarises(capsys):
    assert main(["forecast", SEED, "--plan", "seed", "--upto", "30"]) == 0
    out = capsys.readouterr().out
    assert "event lr_restart @ 31" in out and "scenario 'continue as planned'" in out


@pytest.mark.parametrize("argv, words", [
    (["forecast", "no/such/file.csv"], "does not exist"),
    (["forecast", SEED, "--plan", "cosine:lr=0.1"], "needs lr= and epochs="),
    (["forecast", SEED, "--upto", "0"], "--upto"),
    (["forecast", SEED, "--target", "abc"], "--target abc is not a percentage"),
    (["forecast", SEED, "--target", "nan"], "--target nan is not a percentage"),
    (["report", SEED, "--target", "150"], "--target 150 is not a percentage"),
    (["forecast", SEED, "--target", "-5"], "--target -5 is not a percentage"),
    (["forecast", SEED, "--patience", "-3"], "--patience -3 is negative"),
    (["report", SEED, "--metric", "test_loss"], "--metric test_loss is a loss"),
    (["forecast", SEED, "--plan", "seed", "--checkpoint", "40"], "choose another of 1-31"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_report_writes_markdown_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "report.md"
    assert main(["report", SEED, "--plan", "seed", "--patience", "15", "-o", str(out)]) == 0
    text = out.read_text()
    for section in ("## Epochs", "## Phases", "## Models", "## Consolidated forecast",
                    "## Upcoming events", "## Incidents", "## Scenarios", "## Recommendations"):
        assert section in text
    assert "69.06 -> 48.55 (-20.51)" in text  # the restart's before/after, computed
    capsys.readouterr()
    assert main(["report", SEED, "--plan", "seed", "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == text
    out.write_text("an older report")  # --force is the one way to replace it
    assert main(["report", SEED, "--plan", "seed", "--patience", "15", "-o", str(out),
                 "--force"]) == 0
    assert out.read_text() == text


def test_importing_the_cli_module_loads_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, runwatch.forecast.cli; "
            "print([m for m in ('pandas', 'numpy', 'scipy', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_timm_summary_written_by_timm_itself(tmp_path, capsys):
    import math

    from timm.utils import update_summary

    path = tmp_path / "summary.csv"
    for epoch in range(30):  # timm counts from 0; a 60-epoch cosine, logged so far
        lr = 0.1 * (1 + math.cos(math.pi * epoch / 60)) / 2
        top1 = 70 - 50 * math.exp(-(epoch + 1) / 8)
        update_summary(epoch, {"loss": 3.0 - top1 / 40},
                       {"loss": 2.5 - top1 / 40, "top1": top1, "top5": top1 + 15}, path, lr=lr)
    data = run_json(capsys, str(path))
    assert data["last_epoch"] == 30 and data["predictions"][-1]["epoch"] == 61
    assert any("follow a cosine decay" in n for n in data["notes"])
    assert data["predictions"][-1]["acc1"] > data["last_acc1"]


def test_a_target_already_reached_is_said_so(capsys):
    assert main(["forecast", SEED, "--target", "60"]) == 0
    out = capsys.readouterr().out
    assert "target 60%: reached at epoch 19" in out and "more likely than not" not in out


def test_another_metric_is_named_in_the_summary(capsys):
    assert main(["forecast", DEIT, "--metric", "test_acc5"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert ", test_acc5 " in first and "test acc1" not in first


def test_report_without_a_plan_warns_of_the_restarts_the_logged_lrs_imply(capsys):
    # The seed log's LRs restart at epoch 31 after one 30-epoch cosine: the schedule is
    # assumed to go on restarting (61, 91), and the report says so.
    assert main(["report", SEED]) == 0
    text = capsys.readouterr().out
    assert "restarts the LR at epochs 61 and 91" in text
    assert "assumed from the logged LRs" in text and "T_0=30" in text
    assert "**lr_restart** at epoch 61" in text and "**lr_restart** at epoch 91" in text


def test_a_log_with_several_accuracy_columns_says_which_it_follows(tmp_path, capsys):
    cfvit = "tests/data/foreign/deit_style_log_txt/cfvit_deits_300ep_log.txt"
    assert main(["forecast", cfvit]) == 0
    read_as = capsys.readouterr().out.splitlines()[1]
    assert read_as.startswith("read as: accuracy: test_384_acc1, the last, highest-resolution "
                              "stage of test_96_acc1, test_192_acc1, test_384_acc1 "
                              "(--metric test_96_acc1 follows another)")
    assert main(["report", cfvit, "-o", str(tmp_path / "r.md")]) == 0
    assert "Source: DeiT log.txt; accuracy: test_384_acc1, the last" in \
        (tmp_path / "r.md").read_text()


def test_names_and_notes_from_the_log_reach_the_terminal_escaped(tmp_path, capsys):
    from runwatch.stream import StreamWriter

    run = tmp_path / "evil\x1b]0;pwned\x07"
    run.mkdir()
    with StreamWriter(run / "metrics.jsonl") as w:
        w.write("run_start", run_id="id\x1b[2J", epochs=20, lr_schedule=[0.1] * 20)
        for e in range(1, 9):
            w.write("epoch", epoch=e, test_acc1=10.0 + 5 * e, lr=0.1)
    for command in (["forecast", str(run)], ["report", str(run)]):
        assert main(command) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b" in out  # the name is still there, its escapes written out
