"""Backtest the forecast on finished curves: `python -m runwatch.forecast.backtest [CURVES...]`
(from a checkout also `python -m forecast.backtest`).

Every curve (a CSV with epoch, test_acc1 and lr columns, or any log `runwatch forecast` reads
whose every epoch has its LR; default, in a checkout: tests/data/curves/*.csv and the seed run)
is cut at 25/50/75% of its epochs. At each cut the tool writes the metric stream a trainer
would have written by then (`run_start.lr_schedule` = the whole LR plan the run followed, the
optimizer in its config, the epochs so far) and forecasts it exactly as `runwatch forecast
RUN_DIR` does (load_run, then forecast_run). It prints issue 12's table: the final-accuracy MAE
by cut next to the last-value and best single-law baselines, whether the 80%/95% bands of the
final epoch hold the truth, the Brier score of probability_reach against a last-value baseline,
and how much the forecasts lean on the prior; then each curve's row and the quality goals as
PASS/FAIL lines. Run it on your own finished runs to see how far to trust the forecast there.

Everything learned across curves is learned leave-one-curve-out (runwatch.forecast.learning):
a curve is forecast with a b prior, model reliabilities and a band model learned on the OTHER
curves only (three passes: priors, then reliability from the first pass's errors, then the
bands from the second's). The values learned from all curves are printed for the constants in
forecast.lr_law, forecast.reliability and forecast.combine. The forecast's speed goal (a
450-epoch history in 300 ms) is bench/forecast_speed.py's.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from runwatch.cli import run_command
from runwatch.errors import RunwatchError
from runwatch.forecast.combine import BANDS
from runwatch.forecast.engine import forecast_run
from runwatch.forecast.inputs import history_from_records
from runwatch.forecast.learning import (
    CUTS,
    Curve,
    CutScore,
    annealing_pairs,
    brier,
    brier_last_value,
    final_coverage,
    fit_b_prior,
    fit_gain_prior,
    learn_bands,
    loco_b_priors,
    loco_bands,
    loco_gain_priors,
    loco_reliability,
    prior_samples,
    score,
    stream_records,
)
from runwatch.forecast.loading import load_run
from runwatch.forecast.prior import optimizer_family
from runwatch.forecast.reliability import learn_reliability
from runwatch.forecast.result import ForecastResult
from runwatch.schedule import lr_plan
from runwatch.stream.replay import SEED_SCHEDULE, seed_run_csv
from runwatch.stream.sources import read_source

# The public curves live beside the code in a checkout (tests/data/curves), not in the wheel.
CHECKOUT_CURVES = Path(__file__).resolve().parent.parent / "tests" / "data" / "curves"
SEED_CURVE = str(seed_run_csv())
# The optimizer of each public run, from tests/data/curves/SOURCES.md.
OPTIMIZERS = {
    "adan_resnet50_in1k_300e_warmcos": "adan",
    "cifar10_nin_step": "sgd", "cifar10_preact_resnet_step": "sgd", "cifar10_vgg_step": "sgd",
    "cifar10_wrn40-4_step": "sgd",
    "iformer_small_in1k_adamw_warmcos": "adamw", "imagenet_cfvit_deits_300ep": "adamw",
    "imagenet_repvit_m0_9_300ep": "adamw", "imagenet_repvit_m1_5_300ep": "adamw",
    "imagenet_resnet50_cosine_dhairyag": "sgd", "imagenet_resnet50_resumes_godsofheaven": "sgd",
    "kentaroy47_vit_patch4_cifar10_adam_cosine": "adam",
    "prlz77_resnext29_8x64d_cifar100_step": "sgd",
    "pytorchinsight_sk_resnet101_in1k_step": "sgd", "repghost_0_5x_in1k_sgd_warmcos": "sgd",
    "sagar063_r50_in1k_onecycle_bs64_rewarm": "sgd", "seed_run": "sgd",
}
GOAL_MAE = {0.5: 2.0, 0.25: 4.0}
SEED_CHECKS = ((20, 30, 69.06, 1.0), (30, 31, 48.55, 3.0))  # known, epoch, truth, tolerance


def load_curve(path: str) -> Curve:
    """A finished curve, read as `runwatch forecast` reads a CSV; its plan is the LRs it logged
    (the seed run: its configured schedule)."""
    log = history_from_records(read_source(path)[0])
    if Path(path).resolve() == Path(SEED_CURVE).resolve():
        return Curve("seed_run", log, tuple(lr_plan(SEED_SCHEDULE)), "sgd", SEED_SCHEDULE)
    if log.lr is None or np.isnan(log.lr).any():
        raise RunwatchError(f"{path}: every epoch needs its lr (the plan the run followed): "
                            "give a CSV with an lr column")
    name = Path(path).stem
    return Curve(name, log, tuple(log.lr.tolist()), OPTIMIZERS.get(name))


class Forecaster:
    """Writes a curve's stream as of a cut into a scratch folder and forecasts it as
    `runwatch forecast` does, with the learned pieces given as forecast options."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, curve: Curve, n_known: int, **learned: object
                 ) -> tuple[ForecastResult, float]:
        run_dir = self.folder / f"{curve.name}-{n_known}"
        run_dir.mkdir(exist_ok=True)
        path = run_dir / "metrics.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in stream_records(curve, n_known)))
        start = time.perf_counter()
        run = load_run(str(run_dir))
        result = forecast_run(run.history, run.plan, run.target, replace(run.options, **learned))
        return result, time.perf_counter() - start


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def issue_table(scores: list[CutScore]) -> None:
    laws = sorted({m for s in scores for m in s.model_final if m.startswith("lr_law")})
    print("| cut | runwatch MAE of the final accuracy | last-value MAE | best single law (MAE) "
          "| 80% band holds the truth | 95% band | Brier: runwatch / last value | leans on "
          "the prior |")
    print("|---|---|---|---|---|---|---|---|")
    for cut in CUTS:
        at = [s for s in scores if s.cut == cut]
        errors = [abs(s.final_error) for s in at if s.final_pred is not None]
        missing = len(at) - len(errors)
        law_mae = {m: np.mean([abs(s.model_final[m] - s.final_true) for s in at
                               if m in s.model_final]) for m in laws}
        best = min(law_mae, key=law_mae.get) if law_mae else None
        print(f"| {cut:.0%} of the run | {np.mean(errors):.2f} points"
              + (f" ({missing} run(s) without a forecast of the final epoch)" if missing else "")
              + f" | {np.mean([abs(s.final_true - s.last_value) for s in at]):.2f} | "
              f"{best} ({fmt(law_mae.get(best))}) | {final_coverage(at, 80):.0%} of runs | "
              f"{final_coverage(at, 95):.0%} | {brier(at):.3f} / {brier_last_value(at):.3f} | "
              f"{np.mean([prior_share(s) for s in at]):.0%} |")


def prior_share(score_: CutScore) -> float:
    """The prior model's share of the forecast of the final epoch (0 when it has none)."""
    return next((m.end_weight for m in score_.result.models if m.group == "prior"), 0.0)


def curve_table(scores: list[CutScore]) -> None:
    print("| curve | cut | known | final true | forecast [80%] | error | last value | "
          "80% / 95% hold | per-epoch 80% / 95% | ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        lo80, hi80, lo95, hi95 = s.final_band
        print(f"| {s.curve} | {s.cut:.0%} | {s.n_known} | {s.final_true:.2f} | "
              f"{fmt(s.final_pred)} [{fmt(lo80)}, {fmt(hi80)}] | {fmt(s.final_error, '+.2f')} | "
              f"{s.last_value:.2f} | {'yes' if lo80 <= s.final_true <= hi80 else 'no'} / "
              f"{'yes' if lo95 <= s.final_true <= hi95 else 'no'} | "
              f"{epoch_coverage(s, 0.8):.0%} / {epoch_coverage(s, 0.95):.0%} | "
              f"{1000 * s.seconds:.0f} |")


def epoch_coverage(s: CutScore, level: float) -> float:
    """Share of the future epochs whose band at `level` held the truth."""
    half = {0.8: (np.array([p.hi80 - p.acc1 for p in s.result.predictions]),
                  np.array([p.acc1 - p.lo80 for p in s.result.predictions])),
            0.95: (np.array([p.hi95 - p.acc1 for p in s.result.predictions]),
                   np.array([p.acc1 - p.lo95 for p in s.result.predictions]))}[level]
    n = len(s.errors)
    up, down = half[0][:n], half[1][:n]
    return float(np.mean((s.errors <= up) & (-s.errors <= down))) if n else math.nan


def goal(ok: bool, text: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}: {text}")


def seed_goals(forecast: Forecaster, seed: Curve, learned: dict) -> None:
    for known, epoch, truth, tolerance in SEED_CHECKS:
        result, _ = forecast(seed, known, **learned)
        value = next(p.acc1 for p in result.predictions if p.epoch == epoch)
        goal(abs(value - truth) <= tolerance, f"seed epochs 1-{known} -> epoch {epoch} "
             f"{value:.2f} vs {truth} (error {value - truth:+.2f}, goal within {tolerance})")
    result, _ = forecast(seed, 23, **learned)
    flagged = [e for e in result.events if e.kind == "lr_restart" and e.epoch == 31]
    drop = flagged[0].fields["predicted_drop"] if flagged else math.nan
    goal(bool(flagged) and drop > 3.0, f"seed epochs 1-23: restart at epoch 31 flagged with "
         f"predicted drop {drop:.2f} points (true drop 20.51)")


def quality_goals(scores: list[CutScore]) -> None:
    for cut, limit in GOAL_MAE.items():
        at = [s for s in scores if s.cut == cut]
        mae = np.mean([abs(s.final_error) for s in at if s.final_pred is not None])
        goal(mae <= limit, f"final-accuracy MAE from {cut:.0%} of the run: {mae:.2f} points "
             f"over {len(at)} runs (goal <= {limit})")
    for cut in CUTS:
        at = [s for s in scores if s.cut == cut]
        c80, c95 = final_coverage(at, 80), final_coverage(at, 95)
        goal(0.70 <= c80 <= 0.90 and 0.90 <= c95 <= 0.99, f"at {cut:.0%}: the 80% band holds "
             f"the final accuracy on {c80:.0%} of runs (goal 70-90%), the 95% band on {c95:.0%} "
             "(goal 90-99%)")
    ours, last = brier(scores), brier_last_value(scores)
    goal(ours < last, f"probability_reach Brier score {ours:.3f} against {last:.3f} for the "
         "last-value baseline (lower is better)")
    missing = [f"{s.curve}@{s.cut:.0%}" for s in scores if s.final_pred is None]
    goal(not missing, "every run has a forecast of its final planned epoch"
         + (f" (missing: {', '.join(missing)})" if missing else ""))


def print_learned(pairs: dict, first: list[CutScore], second: list[CutScore]) -> None:
    prior = fit_b_prior([p for ps in pairs.values() for p in ps])
    print(f"LR-law prior from all curves (for forecast.lr_law.B_PRIOR): "
          f"scale = {prior.scale:.2f}, exponent = {prior.exponent:.2f}")
    table = learn_reliability(s.band_errors for s in first).table
    print("model reliability by horizon from all curves (for forecast.reliability.RELIABILITY):")
    print("Reliability((" + "".join(f"\n    ({m!r}, ({', '.join(f'{v:.3f}' for v in row)})),"
                                    for m, row in table) + "\n))")
    bands = learn_bands(second)
    print("band model from all curves (for forecast.combine.BANDS): BandModel(coefs=("
          + ", ".join(f"{c:.3g}" for c in bands.coefs) + "), quantiles=("
          + ", ".join(f"({q}, {z:.3f})" for q, z in bands.quantiles) + "))")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runwatch.forecast.backtest",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", nargs="*", help="finished curves (CSV: epoch, test_acc1, lr)")
    parser.set_defaults(func=backtest)
    return run_command(parser.parse_args(argv))


def backtest(args: argparse.Namespace) -> int:
    paths = args.curves or [*sorted(glob.glob(str(CHECKOUT_CURVES / "*.csv"))), SEED_CURVE]
    if len(paths) < 2:
        raise RunwatchError("give at least two finished curves (CSV: epoch, test_acc1, lr): "
                            "everything is learned on the other curves")
    curves = [load_curve(p) for p in paths]
    with tempfile.TemporaryDirectory() as folder:
        forecast = Forecaster(Path(folder))

        def run_all(learned: dict[str, dict]) -> list[CutScore]:
            out = []
            for c in curves:
                for cut in CUTS:
                    result, seconds = forecast(c, c.known(cut), **learned[c.name])
                    bands = learned[c.name].get("bands", BANDS)
                    out.append(score(c, cut, result, bands, seconds))
            return out

        pairs = {c.name: annealing_pairs(c) for c in curves}
        samples = {c.name: prior_samples(c) for c in curves}
        families = {c.name: optimizer_family(c.optimizer) for c in curves}
        gains = loco_gain_priors(samples, families)
        learned = {name: {"b_prior": prior, "gain_prior": gains[name]}
                   for name, prior in loco_b_priors(pairs).items()}
        first = run_all(learned)
        for name, rel in loco_reliability(first).items():
            learned[name]["reliability"] = rel
        second = run_all(learned)
        for name, bands in loco_bands(second).items():
            learned[name]["bands"] = bands
        scores = run_all(learned)
        issue_table(scores)
        print()
        curve_table(scores)
        print()
        print_learned(pairs, first, second)
        gains_all = fit_gain_prior(samples, families).gains
        print("prior gains per optimizer family from all curves (for forecast.prior.GAIN_PRIOR): "
              "GainPrior((" + ", ".join(f"({f!r}, ({g:.3f}, {h:.3f}))" for f, (g, h) in gains_all)
              + "))")
        print()
        seeds = [c for c in curves if c.name == "seed_run"]
        if seeds:
            seed_goals(forecast, seeds[0], learned["seed_run"])
        quality_goals(scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
