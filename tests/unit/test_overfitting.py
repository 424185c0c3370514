"""Deflated Sharpe ratio and PBO (CSCV) against worked examples."""

from __future__ import annotations

import math

import pytest

from app.backtest.overfitting import deflated_sharpe, expected_max_sharpe, pbo_cscv, probabilistic_sharpe


def test_expected_max_sharpe_worked_by_hand() -> None:
    # N = 100, V = 0.5: Z(0.99) = 2.326348, Z(1 - 1/(100 e)) = Z(0.996321) = 2.6800; by hand:
    # sqrt(0.5) * (0.422784 * 2.326348 + 0.577216 * 2.6800) = 1.7893.
    z1, z2 = 2.3263478740, 2.6800
    assert expected_max_sharpe(100, 0.5) == pytest.approx(math.sqrt(0.5) * (0.4227843351 * z1 + 0.5772156649 * z2),
                                                          abs=2e-4)
    assert expected_max_sharpe(1, 0.5) == 0.0


def test_deflated_sharpe_worked_example() -> None:
    # Bailey & López de Prado's setting: annual SR 2.5 over 1250 daily returns (250 a year), skew -3,
    # kurtosis 10, N = 100 trials whose annual Sharpe ratios vary by 0.5. Per day: SR = 2.5/sqrt(250),
    # V = 0.5/250. The paper's figures: SR0 = 0.1132 per day and DSR = 0.9004.
    sr, v = 2.5 / math.sqrt(250), 0.5 / 250
    sr0 = expected_max_sharpe(100, v)
    assert sr0 == pytest.approx(0.1132, abs=1e-4)
    denominator = math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    z = (sr - sr0) * math.sqrt(1249) / denominator
    assert deflated_sharpe(sr, 1250, 100, v, skew=-3, kurtosis=10) == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))
    assert deflated_sharpe(sr, 1250, 100, v, skew=-3, kurtosis=10) == pytest.approx(0.9004, abs=1e-4)
    # More trials, same record: the bar rises and the DSR falls; one trial is the plain PSR against 0.
    assert deflated_sharpe(sr, 1250, 1000, v, -3, 10) < deflated_sharpe(sr, 1250, 100, v, -3, 10)
    assert deflated_sharpe(sr, 1250, 1, v) == probabilistic_sharpe(sr, 0.0, 1250)


def test_pbo_is_one_when_the_in_sample_best_is_always_the_out_of_sample_worst() -> None:
    # Trial 0 earns only in the first half of the rows and loses in the second; trial 1 the reverse;
    # trial 2 is flat noise around zero. Built so that whatever wins in-sample loses out-of-sample.
    rows = []
    for t in range(80):
        first = t < 40
        wiggle = 0.001 * ((t * 7) % 5 - 2)
        rows.append([(0.01 if first else -0.01) + wiggle, (-0.01 if first else 0.01) + wiggle, wiggle])
    pbo, logits = pbo_cscv(rows, blocks=2)
    assert len(logits) == 2 and pbo == 1.0


def test_pbo_is_zero_when_one_trial_dominates_everywhere() -> None:
    rows = [[0.02 + 0.001 * (t % 3), 0.001 * ((t * 5) % 7 - 3), -0.01 + 0.001 * (t % 2)] for t in range(64)]
    pbo, logits = pbo_cscv(rows, blocks=8)
    assert len(logits) == math.comb(8, 4) == 70
    assert pbo == 0.0 and all(value == pytest.approx(math.log(3)) for value in logits)


def test_pbo_refuses_odd_block_counts() -> None:
    with pytest.raises(ValueError, match="even"):
        pbo_cscv([[0.0]] * 10, blocks=3)
