"""Speed and memory of `runwatch ckpt inspect/edit` on a ~200 MB ResNet50 + SGD-momentum checkpoint.

Builds the checkpoint in a temp dir (torchvision ResNet50, one SGD step so every parameter has
a momentum buffer, CosineAnnealingWarmRestarts after 30 epochs), then measures in this run, each
command a fresh subprocess (median of --repeat runs, page cache warm for all of them):
- `python -c "import torch; torch.load(...)"` against `runwatch ckpt inspect`  (goal < 0.1x)
- `cp` against `runwatch ckpt edit --yes --no-oracle`                         (goal < 3x)
- peak RSS of inspect and edit, each measured alone in a fresh parent         (goal < 100 MB)
- the oracle's own cost, apart: `edit` with the torch replay (it imports torch) against
  without it, and `inspect --verify` against `inspect`.
Our packages are byte-compiled first, as a pip install (or any first run) leaves them and as
torch's are: a PYTHONDONTWRITEBYTECODE environment would otherwise recompile every module on
every run of ours and of no torch module, a cost a user never pays.

    OMP_NUM_THREADS=1 python bench/ckpt_speed.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_INSPECT, GOAL_EDIT, GOAL_PEAK_MB = 0.1, 3.0, 100.0

# Runs one command in a fresh parent and prints the child's peak RSS (ru_maxrss is in KiB).
PEAK_RSS = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def build_checkpoint(path: Path) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet50()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=30, eta_min=1e-5)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    opt.step()
    for _ in range(30):
        sched.step()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "lr_scheduler": sched.state_dict(), "epoch": 29}, path)


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall seconds of `cmd` (output discarded; a failure stops the benchmark)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mb(cmd: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, *cmd], check=True,
                         capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the checkpoint here instead of a temp dir")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ckpt_speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "resnet50_sgd.pt"
    if not src.exists():
        build_checkpoint(src)
    size_mb = src.stat().st_size / 1e6
    repo = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(repo / pkg) for pkg in ("runwatch", "stream", "trainer", "ckpt_tools",
                                                  "forecast", "tui"))],
                   check=True)
    load = [sys.executable, "-c",
            f"import torch; torch.load({str(src)!r}, map_location='cpu', weights_only=True)"]
    t_load = timed(load, args.repeat)
    t_cp = timed(["cp", str(src), str(folder / "copy.pt")], args.repeat)
    print(f"checkpoint: {size_mb:.1f} MB ResNet50 + SGD momentum ({src})")
    print(f"baselines: torch.load {t_load:.3f} s (peak {peak_mb(load):.1f} MB), cp {t_cp:.3f} s")
    results = {"checkpoint_mb": round(size_mb, 1), "torch_load_s": round(t_load, 3),
               "cp_s": round(t_cp, 3)}
    # The whole `runwatch` dispatcher (imports every part's CLI module) and ckpt_tools alone.
    for label, cli in (("runwatch ckpt", [sys.executable, "-m", "runwatch", "ckpt"]),
                       ("python -m ckpt_tools", [sys.executable, "-m", "runwatch.ckpt_tools"])):
        results[label] = measure(label, cli, src, folder / "edited.pt", t_load, t_cp,
                                 args.repeat)
    print(json.dumps(results))
    return 0


def measure(label: str, cli: list[str], src: Path, out: Path, t_load: float, t_cp: float,
            repeat: int) -> dict:
    def edit_cmd(*extra: str) -> list[str]:
        out.unlink(missing_ok=True)
        return [*cli, "edit", str(src), "-o", str(out), "--t0", "100", "--yes", *extra]

    def timed_edit(*extra: str) -> float:
        edits = []
        for _ in range(repeat):
            cmd = edit_cmd(*extra)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            edits.append(time.perf_counter() - start)
        return statistics.median(edits)

    t_inspect = timed([*cli, "inspect", str(src)], repeat)
    t_edit = timed_edit("--no-oracle")
    t_edit_oracle = timed_edit()
    t_verify = timed([*cli, "inspect", str(src), "--verify"], repeat)
    peak_inspect = peak_mb([*cli, "inspect", str(src)])
    peak_edit = peak_mb(edit_cmd("--no-oracle"))
    worst = max(peak_inspect, peak_edit)
    print(f"[{label}]")
    print(f"  inspect {t_inspect:.3f} s: {t_inspect / t_load:.3f}x torch.load "
          f"(goal < {GOAL_INSPECT}x) {'MET' if t_inspect / t_load < GOAL_INSPECT else 'MISSED'}")
    print(f"  edit    {t_edit:.3f} s: {t_edit / t_cp:.2f}x cp (goal < {GOAL_EDIT}x) "
          f"{'MET' if t_edit / t_cp < GOAL_EDIT else 'MISSED'}")
    print(f"  peak RSS: inspect {peak_inspect:.1f} MB, edit {peak_edit:.1f} MB "
          f"(goal < {GOAL_PEAK_MB:.0f} MB) {'MET' if worst < GOAL_PEAK_MB else 'MISSED'}")
    print(f"  the oracle (imports torch, replays the edit): edit {t_edit_oracle:.3f} s "
          f"(+{t_edit_oracle - t_edit:.3f} s), inspect --verify {t_verify:.3f} s "
          f"(+{t_verify - t_inspect:.3f} s)")
    return {"inspect_s": round(t_inspect, 3), "inspect_ratio": round(t_inspect / t_load, 3),
            "edit_s": round(t_edit, 3), "edit_ratio": round(t_edit / t_cp, 2),
            "peak_inspect_mb": round(peak_inspect, 1), "peak_edit_mb": round(peak_edit, 1),
            "edit_with_oracle_s": round(t_edit_oracle, 3),
            "inspect_verify_s": round(t_verify, 3)}


if __name__ == "__main__":
    sys.exit(main())
