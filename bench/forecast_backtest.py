"""Backtest the forecast on finished curves: `python bench/forecast_backtest.py [CURVES...]`.

For every curve and cut (25/50/75% of its epochs) the forecast sees only the epochs up to the
cut and the whole LR column as its plan (a schedule is configured before a run starts; the
accuracy after the cut is not known). It prints each model's error on the final accuracy and on
the next 10 epochs, the combined forecast's, the 80%/95% interval coverage, the time per
forecast, and the issue's quality goals as PASS/FAIL lines.

Everything learned across curves is learned leave-one-curve-out. The LR law's prior on its
annealing term (`forecast.lr_law.B_PRIOR`: b against the run's LR jitter) is fitted on the
other curves' finished histories before a curve is forecast, and the band multipliers used on a
curve are the quantiles of the normalised errors of the OTHER curves, so no curve is scored by
a prior or a band tuned on itself. So are the models' reliability multipliers by horizon
(forecast.reliability): a first pass forecasts every curve and cut and measures each model's
error in each horizon band, then every curve is forecast again with the multipliers learned on
the other curves' errors. All three are printed as learned from all curves, for the constants
in forecast.lr_law, forecast.reliability and forecast.intervals. The seed run
(tests/data/seed_run/epochs.csv) is scored with its configured 100-epoch plan; its goal lines
use the prior and multipliers learned without it.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
from forecast_speed import time_long_history

from runwatch.forecast.engine import forecast_run
from runwatch.forecast.inputs import EpochLog, history_from_records
from runwatch.forecast.learning import (
    CUTS,
    CutScore,
    annealing_pairs,
    coverage_loco,
    fit_b_prior,
    loco_b_priors,
    loco_multipliers,
    loco_reliability,
    score_cut,
    weighted_quantile,
)
from runwatch.forecast.lr_law import B_PRIOR, BPrior
from runwatch.forecast.reliability import RELIABILITY, Reliability, learn_reliability
from runwatch.forecast.result import ForecastOptions
from runwatch.forecast.scenarios import parse_plan
from runwatch.schedule import lr_plan
from runwatch.stream.sources import read_source

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CURVES = sorted(glob.glob(str(REPO / "tests/data/curves/*.csv")))
SEED_CURVE = str(REPO / "tests/data/seed_run/epochs.csv")


def load_curve(path: str) -> tuple[EpochLog, list[float] | None]:
    """A finished curve, read as `runwatch forecast` reads a CSV, and its plan: the seed run's
    configured plan, else its LR column."""
    log = history_from_records(read_source(path)[0])
    if Path(path).resolve() == Path(SEED_CURVE).resolve():
        return log, lr_plan(parse_plan("seed"))
    return log, (log.lr.tolist() if log.lr is not None else None)


def print_tables(scores: list[CutScore], cov80: dict[str, float], cov95: dict[str, float]) -> None:
    m80, m95 = loco_multipliers(scores, 0.8), loco_multipliers(scores, 0.95)
    print("| curve | cut | known | final true | forecast | error | best model (error) |"
          " next-10 MAE | cov80 | cov95 | ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        best = min(s.model_final_err.items(), key=lambda kv: abs(kv[1]))
        inside80, inside95 = np.mean(s.z <= m80[s.curve]), np.mean(s.z <= m95[s.curve])
        print(f"| {s.curve} | {s.cut:.0%} | {s.n_known} | {s.final_true:.2f} | "
              f"{s.final_pred:.2f} | {s.final_pred - s.final_true:+.2f} | {best[0]} "
              f"({best[1]:+.2f}) | {s.next10_mae:.2f} | {inside80:.0%} | {inside95:.0%} | "
              f"{1000 * s.seconds:.0f} |")
    print()
    names = sorted({m for s in scores for m in s.model_final_err})
    print("| model (all runs above) | final MAE @25% | @50% | @75% | next-10 MAE |")
    print("|---|---|---|---|---|")
    for name in ["combined", *names]:
        row = []
        for cut in CUTS:
            errs = [abs(s.final_pred - s.final_true) if name == "combined"
                    else abs(s.model_final_err[name]) for s in scores
                    if s.cut == cut and (name == "combined" or name in s.model_final_err)]
            row.append(f"{np.mean(errs):.2f}" if errs else "-")
        nxt = [s.next10_mae if name == "combined" else s.model_next10_mae[name]
               for s in scores if name == "combined" or name in s.model_next10_mae]
        print(f"| {name} | {' | '.join(row)} | {np.mean(nxt):.2f} |")
    print()
    print("coverage (leave-one-curve-out), per curve: "
          + ", ".join(f"{c} {cov80[c]:.0%}/{cov95[c]:.0%}" for c in cov80))
    all_z = [s.z for s in scores if len(s.z)]
    print("band multipliers from all curves (for forecast.intervals): "
          f"CAL80 = {weighted_quantile(all_z, 0.8):.2f}, "
          f"CAL95 = {weighted_quantile(all_z, 0.95):.2f}")


def goal(ok: bool, text: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}: {text}")


def seed_goals(b_prior: BPrior = B_PRIOR, reliability: Reliability = RELIABILITY) -> None:
    log, plan = load_curve(SEED_CURVE)
    options = ForecastOptions(b_prior=b_prior, reliability=reliability)
    r20 = forecast_run(log.head(20), plan, 75.0, options)
    e30 = next(p.acc1 for p in r20.predictions if p.epoch == 30)
    goal(abs(e30 - 69.06) <= 1.0, f"seed epochs 1-20 -> epoch 30 {e30:.2f} vs 69.06 "
         f"(error {e30 - 69.06:+.2f}, goal within 1.0)")
    r30 = forecast_run(log.head(30), plan, 75.0, options)
    e31 = next(p.acc1 for p in r30.predictions if p.epoch == 31)
    goal(abs(e31 - 48.55) <= 3.0, f"seed epochs 1-30 + restart in plan -> epoch 31 {e31:.2f} "
         f"vs 48.55 (error {e31 - 48.55:+.2f}, goal within 3)")
    r23 = forecast_run(log.head(23), plan, 75.0, options)
    flagged = [e for e in r23.events if e.kind == "lr_restart" and e.epoch == 31]
    drop = flagged[0].fields["predicted_drop"] if flagged else float("nan")
    goal(bool(flagged) and drop > 3.0, f"seed epochs 1-23: restart at epoch 31 flagged with "
         f"predicted drop {drop:.2f} points (true drop 20.51)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/forecast_backtest.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", nargs="*", help="finished curves (CSV: epoch, test_acc1, lr)")
    args = parser.parse_args(argv)
    curves = args.curves or DEFAULT_CURVES
    with_seed = not args.curves
    runs = {"seed_run" if path == SEED_CURVE else Path(path).stem: load_curve(path)
            for path in curves + ([SEED_CURVE] if with_seed else [])}
    pairs = {name: annealing_pairs(log, plan) for name, (log, plan) in runs.items()}
    priors = loco_b_priors(pairs)
    first = [score_cut(name, log, plan, cut, priors[name])
             for name, (log, plan) in runs.items() for cut in CUTS]
    reliability = loco_reliability(first)
    scores = [score_cut(name, log, plan, cut, priors[name], reliability[name])
              for name, (log, plan) in runs.items() for cut in CUTS]
    cov80, cov95 = coverage_loco(scores, 0.8), coverage_loco(scores, 0.95)
    print_tables(scores, cov80, cov95)
    learned = fit_b_prior([p for ps in pairs.values() for p in ps])
    print(f"LR-law prior from all curves (for forecast.lr_law.B_PRIOR): "
          f"scale = {learned.scale:.2f}, exponent = {learned.exponent:.2f}")
    table = learn_reliability(s.band_errors for s in first).table
    print("model reliability by horizon from all curves (for forecast.reliability.RELIABILITY):")
    print("Reliability((" + "".join(f"\n    ({m!r}, ({', '.join(f'{v:.3f}' for v in row)})),"
                                    for m, row in table) + "\n))")
    print()
    corpus = [s for s in scores if s.curve != "seed_run"]
    if with_seed:
        seed_goals(priors["seed_run"], reliability["seed_run"])
    for cut, limit in ((0.5, 2.5), (0.25, 4.0)):
        errs = [abs(s.final_pred - s.final_true) for s in corpus if s.cut == cut]
        goal(np.mean(errs) <= limit, f"final-accuracy MAE from {cut:.0%} of the run: "
             f"{np.mean(errs):.2f} points over {len(errs)} curves (goal <= {limit})")
    corpus_cov = float(np.mean([cov80[c] for c in {s.curve for s in corpus}]))
    goal(0.70 <= corpus_cov <= 0.90, f"80% band coverage (leave-one-curve-out) "
         f"{corpus_cov:.1%} (goal 70-90%); 95% band: "
         f"{np.mean([cov95[c] for c in {s.curve for s in corpus}]):.1%}")
    ms = 1000 * time_long_history(450)
    goal(ms < 300, f"forecast of a 450-epoch history: {ms:.0f} ms (goal < 300 ms, one core "
         "when run with OMP_NUM_THREADS=1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
