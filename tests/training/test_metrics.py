"""Metrics over whole folds, and the reference scripts' per-batch averaging shown to be biased."""

import numpy as np
import pytest

from training.metrics import (classification_metrics, confusion_matrix, per_batch_average,
                              regression_metrics, uar, war, weighted_f1)


def test_classification_metrics_by_hand():
    t = np.array([0, 0, 0, 0, 1, 1, 2, -1])
    p = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    m = classification_metrics(t, p)
    assert m["n"] == 7
    assert m["WAR"] == pytest.approx(5 / 7)
    assert m["UAR"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    # per-class F1: c0 P=3/4 R=3/4 -> .75; c1 P=1/2 R=1/2 -> .5; c2 1.0; weights 4,2,1
    assert m["F1"] == pytest.approx((4 * 0.75 + 2 * 0.5 + 1.0) / 7)
    cm = confusion_matrix(t, p, 3)
    assert cm.tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_regression_metrics_skip_unknown():
    m = regression_metrics([0.0, 1.0, np.nan, 2.0], [0.5, 1.0, 9.0, 1.0])
    assert m["n"] == 3
    assert m["MAE"] == pytest.approx(0.5)
    assert m["MSE"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert m["RMSE"] == pytest.approx(np.sqrt((0.25 + 1) / 3))


def test_per_batch_average_is_biased_on_unbalanced_fold():
    # 20 test samples, the last batch holds only 4 of them, all wrong: per-batch WAR counts that
    # batch as much as the full one of 16.
    t = np.zeros(20, int)
    p = np.zeros(20, int)
    p[16:] = 1
    assert war(t, p) == pytest.approx(16 / 20)
    assert per_batch_average(war, t, p, 16) == pytest.approx((1.0 + 0.0) / 2)
    # UAR: a batch sees only its own classes, so a rare class missed in one batch weighs little
    t = np.array([0] * 15 + [1] + [0] * 4)
    p = np.array([0] * 15 + [0] + [0] * 4)
    assert uar(t, p) == pytest.approx(0.5)
    assert per_batch_average(uar, t, p, 16) == pytest.approx((0.5 + 1.0) / 2)
    assert weighted_f1(t, p) != pytest.approx(per_batch_average(weighted_f1, t, p, 16))


def test_metrics_agree_with_scikit_learn_on_random_folds():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    for trial in range(50):
        n = int(rng.integers(5, 60))
        t = rng.integers(0, 7, n)
        p = rng.integers(0, 7, n)
        if trial % 3 == 0:  # a fold lacking some classes the model still predicts
            t = np.where(t >= 4, 0, t)
        assert war(t, p) == pytest.approx(skm.accuracy_score(t, p))
        assert uar(t, p) == pytest.approx(skm.balanced_accuracy_score(t, p))
        assert weighted_f1(t, p) == pytest.approx(skm.f1_score(t, p, average="weighted", zero_division=0))
        v, w = rng.normal(size=n), rng.normal(size=n)
        r = regression_metrics(v, w)
        assert r["MAE"] == pytest.approx(skm.mean_absolute_error(v, w))
        assert r["MSE"] == pytest.approx(skm.mean_squared_error(v, w))


def test_uar_averages_over_classes_in_the_truth_only():
    # the fold holds classes 0 and 1; the model also guesses class 2. Our UAR (balanced accuracy)
    # ignores class 2; sklearn's default macro recall would add a 0 for it.
    from sklearn import metrics as skm

    t = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 1])
    assert uar(t, p) == pytest.approx((0.5 + 1.0) / 2)
    assert skm.recall_score(t, p, average="macro", zero_division=0) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
