"""The checkpoint fuzz suite's counts at a larger scale: inputs tried by kind, and outcomes.

Runs the generators of tests/fuzz (the same seed as the CI run; `--scale` multiplies the
sampled kinds: byte flips, structure mutants, HF trainer states) through the same harness and
prints the table (inputs by kind x outcome of inspect, edit, diff and rewind; inputs with a
finding, and how many of those are the upper-layer failures the suite lists as pending), then
each kind of finding with a count and an example. Exit status 1 when any finding is new.

    python bench/fuzz_counts.py [--scale 3] [--seed 9] [--kinds structure,hf]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "tests" / "fuzz"
sys.path[:0] = [str(FUZZ)]

from ckpt_corpus import KINDS, corpus, seed_cases  # noqa: E402
from ckpt_harness import Driver, count_table, findings_table, signature  # noqa: E402
from test_ckpt_fuzz import PENDING  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        canary = Path(work) / "CANARY"
        driver = Driver(Path(work), canary)
        driver.warm_up(seed_cases())
        start = time.perf_counter()
        results = driver.run(corpus(canary, seed=args.seed, scale=args.scale,
                                    kinds=set(args.kinds.split(","))))
        seconds = time.perf_counter() - start
    print(f"checkpoint fuzz, seed {args.seed}, scale {args.scale}: {len(results)} inputs in "
          f"{seconds:.0f} s\n")
    print(count_table(results, PENDING))
    print(f"\nfindings (pending: listed in tests/fuzz/test_ckpt_fuzz.py PENDING):\n"
          f"{findings_table(results)}")
    new = {signature(f) for r in results for f in r.findings} - set(PENDING)
    if new:
        print(f"\nnew findings: {sorted(new)}")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
