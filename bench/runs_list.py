"""The run list's data: a folder of 100 runs of 300 epochs summarised (issue 14: on screen in
at most 2 s), against reading every run whole, in the same process.

Each run is a stream as runwatch's trainer writes it: a run_start with its plan, 20 step
records and one epoch record per epoch, a run_end for three runs in four (0.8 MB a run, 83 MB
in all). `scan_runs` reads each stream's first line and last 256 KiB; the baseline reads every
record of every run (`read_source`), as a list built on the monitor's reader would.

    python bench/runs_list.py [RUNS] [EPOCHS] [STEPS_PER_EPOCH]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from runwatch.stream.runs import scan_runs
from runwatch.stream.sources import read_source

GOAL_S = 2.0


def write_run(run: Path, epochs: int, steps: int, ended: bool) -> None:
    run.mkdir()
    t = 1.7e9
    lines = [{"type": "run_start", "time": t, "schema": 1, "run_id": run.name, "config": {},
              "lr_schedule": [0.1] * epochs, "epochs": epochs, "target_acc1": 75.0}]
    best = 0.0
    for e in range(1, epochs + 1):
        for s in range(1, steps + 1):
            lines.append({"type": "step", "time": t + e * 60 + s, "epoch": e, "step": s,
                          "global_step": e * steps + s, "loss": 2.0 - e / epochs, "lr": 0.1,
                          "images_per_s": 1000.0})
        acc = 75 * (1 - 0.99**e)
        best = max(best, acc)
        lines.append({"type": "epoch", "time": t + e * 60, "epoch": e, "lr": 0.1,
                      "train_loss": 1.0, "test_acc1": acc, "best_acc1": best, "best_epoch": e,
                      "epoch_time_s": 60.0})
    if ended:
        lines.append({"type": "run_end", "time": t + epochs * 60, "status": "completed",
                      "epoch": epochs})
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines)
    (run / "metrics.jsonl").write_text(text)


def main(runs: int = 100, epochs: int = 300, steps: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(runs):
            write_run(root / f"run-{i:03d}", epochs, steps, ended=i % 4 != 0)
        size = sum(p.stat().st_size for p in root.rglob("metrics.jsonl"))
        t0 = time.perf_counter()
        summaries = scan_runs(root)
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        whole = [read_source(root / f"run-{i:03d}")[0] for i in range(runs)]
        baseline_s = time.perf_counter() - t0
    assert len(summaries) == runs and all(s.epoch == epochs for s in summaries)
    assert sum(len(w) for w in whole) == runs * (epochs * (steps + 1) + 1) + runs * 3 // 4
    print(f"{runs} runs x {epochs} epochs ({steps} steps each), {size / 1e6:.0f} MB of streams")
    print(f"scan_runs (ends only)  : {scan_s:.3f} s   goal <= {GOAL_S} s: "
          f"{'met' if scan_s <= GOAL_S else 'MISSED'}")
    print(f"read every run whole   : {baseline_s:.3f} s")
    print(f"speed-up               : {baseline_s / scan_s:.1f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
