"""The prior: gains per decade of LR annealed, per optimizer family, learned on other runs."""

import numpy as np
import pytest
from forecast_curves import cosine_run

from runwatch.forecast import ForecastOptions, forecast_run
from runwatch.forecast.learning import fit_gain_prior, loco_gain_priors
from runwatch.forecast.lr_law import logit_acc
from runwatch.forecast.prior import ANY, GainPrior, optimizer_family, predict_prior


@pytest.mark.parametrize("name, family", [
    ("sgd", "sgd"), ("SGD", "sgd"), ("nesterov_momentum", "sgd"), ("adamw", "adaptive"),
    ("Adan", "adaptive"), ("lamb", "adaptive"), (None, ANY), ("my_optimizer", ANY),
])
def test_optimizer_families(name, family):
    assert optimizer_family(name) == family


def test_the_prior_gains_per_decade_annealed_and_loses_at_a_restart():
    lrs = np.array([0.1] * 10 + [0.01] * 10 + [0.1] * 10)
    acc = np.full(10, 60.0)
    g, h = 0.3, 0.0
    out = predict_prior(acc, lrs, 10, np.array([10, 15, 25]), (g, h))
    assert out[0] == pytest.approx(60.0)
    assert logit_acc(out[1:2])[0] - logit_acc(np.array([60.0]))[0] == pytest.approx(0.3)
    assert out[2] == pytest.approx(60.0)  # back at the LR it had: the gain is given back
    area = predict_prior(acc, lrs, 10, np.array([30]), (0.0, 0.5))[0]
    assert area > 60.0  # more training at LR counts too


def test_gains_are_learned_per_family_and_without_the_scored_curve():
    rng = np.random.default_rng(0)

    def samples(g, h):
        d, a = rng.uniform(0, 3, 40), rng.uniform(0, 1, 40)
        return list(zip(d, a, g * d + h * a, strict=True))

    data = {"s1": samples(0.3, 0.1), "s2": samples(0.3, 0.1), "a1": samples(0.1, 0.2),
            "a2": samples(0.1, 0.2), "odd": samples(0.9, 0.0)}
    families = {"s1": "sgd", "s2": "sgd", "a1": "adaptive", "a2": "adaptive", "odd": "sgd"}
    learned = fit_gain_prior({k: v for k, v in data.items() if k != "odd"}, families)
    assert learned.of("sgd") == pytest.approx((0.3, 0.1), abs=1e-9)
    assert learned.of("adaptive") == pytest.approx((0.1, 0.2), abs=1e-9)
    loco = loco_gain_priors(data, families)
    assert loco["odd"].of("sgd") == pytest.approx((0.3, 0.1), abs=1e-9)  # its own left out
    assert loco["a1"].of("adaptive") == loco["a1"].of(ANY)  # one adaptive curve left: pooled
    assert GainPrior(((ANY, (0.2, 0.1)),)).of("sgd") == (0.2, 0.1)


def test_the_forecast_says_how_much_it_leans_on_the_prior_of_the_runs_family():
    log, plan = cosine_run(20, noise=0.5)
    sgd = forecast_run(log, plan, 75.0, ForecastOptions(optimizer="sgd"))
    adamw = forecast_run(log, plan, 75.0, ForecastOptions(optimizer="adamw"))
    prior = {r: next(m for m in r.models if m.name == "prior") for r in (sgd, adamw)}
    assert prior[sgd].final_acc1 > prior[adamw].final_acc1  # SGD runs gain more per decade
    assert 0 < sgd.prior_share == pytest.approx(prior[sgd].end_weight)
    assert any(f"leans {sgd.prior_share:.0%} on the prior" in n and "sgd runs" in n
               for n in sgd.notes)


def test_the_prior_does_not_count_within_the_first_tenth_of_the_history_ahead():
    log, plan = cosine_run(20, noise=0.5)
    runs = [forecast_run(log, plan, 75.0, ForecastOptions(gain_prior=GainPrior(((ANY, g),))))
            for g in ((0.2, 0.5), (0.4, 0.7))]
    assert all(r.prior_share > 0.1 for r in runs)
    near = [r.predictions[0].acc1 for r in runs]  # epoch 21: 1/20 ahead
    far = [r.predictions[-1].acc1 for r in runs]
    assert near[0] == near[1] and far[0] != far[1]
