"""Following a growing Lightning metrics.csv: incremental reading vs re-parsing it whole.

A 100-epoch Lightning log (33k rows: per-step loss, val and train rows, lr rows) grows
while a Source follows it. Each tick appends one epoch of rows and polls. The baseline, run
in the same process on the same file, re-parses the whole file at every tick (what a reader
without offsets does, e.g. a metrics TUI that re-reads the CSV on a timer). Also prints the
cost of a poll when nothing changed (the monitor's idle tick).

    python bench/sources_follow.py [EPOCHS] [STEPS_PER_EPOCH]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from runwatch.stream.logs.lightning_csv import lightning_table
from runwatch.stream.logs.tables import read_csv_text
from runwatch.stream.sources import open_source

HEADER = "epoch,lr-SGD,step,train_acc,train_loss_epoch,train_loss_step,val_acc,val_loss\n"


def epoch_rows(epoch: int, steps: int, rng: random.Random) -> str:
    first = epoch * steps
    rows = [f",{0.1 * 0.98**epoch},{first},,,,,"]
    rows += [f"{epoch},,{first + i},,,{rng.random():.6f},," for i in range(steps)]
    last = first + steps - 1
    rows.append(f"{epoch},,{last},,,,{rng.random():.6f},{rng.random():.6f}")
    rows.append(f"{epoch},,{last},{rng.random():.6f},{rng.random():.6f},,,")
    return "\n".join(rows) + "\n"


def main(epochs: int = 100, steps: int = 330) -> None:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.csv"
        path.write_text(HEADER)
        source = open_source(path)
        follow_s = baseline_s = 0.0
        followed = 0
        for epoch in range(epochs):
            with open(path, "a") as f:
                f.write(epoch_rows(epoch, steps, rng))
            t0 = time.perf_counter()
            records, reset = source.poll()
            t1 = time.perf_counter()
            header, rows, _ = read_csv_text(path.read_text())
            whole = lightning_table(header, rows, None, settled_only=True)
            t2 = time.perf_counter()
            assert not reset
            followed += len(records)
            follow_s += t1 - t0
            baseline_s += t2 - t1
        assert followed == len(whole.records) + 1  # + the synthetic run_start
        t0 = time.perf_counter()
        idle_polls = 1000
        for _ in range(idle_polls):
            source.poll()
        idle_s = (time.perf_counter() - t0) / idle_polls
        size_mb = path.stat().st_size / 1e6
    rows_total = epochs * (steps + 3)
    print(f"file: {rows_total} rows, {size_mb:.1f} MB, {epochs} appends of one epoch each")
    print(f"incremental follow : {follow_s:.2f} s total, {1000 * follow_s / epochs:.1f} ms/poll")
    print(f"re-parse whole     : {baseline_s:.2f} s total, "
          f"{1000 * baseline_s / epochs:.1f} ms/poll")
    print(f"speed-up           : {baseline_s / follow_s:.1f}x")
    print(f"idle poll          : {1e6 * idle_s:.0f} us (file unchanged)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
