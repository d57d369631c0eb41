import subprocess
import sys
from pathlib import Path

from runwatch.cli import build_parser, main


def test_watch_and_demo_arguments():
    parser = build_parser()
    args = parser.parse_args(["watch", "runs/r50", "--target", "76", "--metric", "test_acc5",
                              "--replay"])
    assert (args.path, args.target, args.metric, args.replay) == (
        [Path("runs/r50")], "76", "test_acc5", 1.0)  # checked by run_watch: one-line errors
    assert parser.parse_args(["watch", "x", "--replay", "4"]).replay == 4.0
    assert parser.parse_args(["watch", "x"]).replay is None
    assert parser.parse_args(["demo", "--seed-run"]).seed_run
    assert not parser.parse_args(["demo"]).seed_run


def test_cli_module_is_cheap_to_import():
    code = "import sys, tui.commands; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_file_is_exit_status_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "notes.bin"
    bad.write_bytes(b"\x00\x01 not a log\n" * 10)
    assert main(["watch", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("runwatch: error:") and "Traceback" not in err


def test_a_target_that_is_not_a_percentage_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["watch", str(tmp_path), "--target", "nan"]) == 2
    err = capsys.readouterr().err
    assert "--target nan is not a percentage" in err and err.count("\n") == 1


def test_output_piped_into_a_reader_that_stops_early_ends_without_traceback():
    # 100+ KB of JSON: more than a pipe holds, so the writer meets the closed pipe.
    argv = [sys.executable, "-m", "runwatch", "forecast",
            "tests/data/curves/cifar10_vgg_step.csv", "--upto", "20", "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err


def test_a_loss_as_the_metric_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["watch", str(tmp_path), "--metric", "test_loss"]) == 2
    err = capsys.readouterr().err
    assert "--metric test_loss is a loss" in err and err.count("\n") == 1


def test_watch_opens_the_run_list_for_several_paths_or_a_folder_of_runs(tmp_path, capsys):
    from runwatch.stream import StreamWriter
    from runwatch.tui.commands import runs_scanner

    for name in ("a", "b"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        with StreamWriter(tmp_path / "runs" / name / "metrics.jsonl") as w:
            w.write("epoch", epoch=1, test_acc1=5.0)
    runs, one = tmp_path / "runs", tmp_path / "runs" / "a"
    assert runs_scanner([runs], None, None) is not None  # a folder of runs: the list
    assert runs_scanner([one], None, None) is None  # one run: the monitor
    assert runs_scanner([runs], "csv", None) is None  # --source means one run
    listed = runs_scanner([one, runs / "b"], None, None)
    assert [s.name for s in listed.scan()] == ["a", "b"]
    assert main(["watch", str(one), str(runs / "b"), "--replay", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give one path" in err
