"""The paper's metrics, computed over a WHOLE test fold.

Classification, computed by scikit-learn: WAR (accuracy_score), UAR (recall_score averaged over
the classes present in the true labels, i.e. balanced_accuracy_score; see `uar`), weighted F1
(f1_score, average="weighted"). Regression: MAE, MSE (scikit-learn), RMSE = sqrt(MSE).
Unknown targets (-1 for classes, NaN for values) are left out.

`per_batch_average` reproduces how the authors' reference scripts score: a metric per test batch,
then the mean of those. That is not the metric of the fold (batches of different make-up count
equally, UAR of a batch only sees its own classes) and it is kept only to show the bias.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn import metrics as skm


def _known_classes(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    keep = y_true >= 0
    return y_true[keep], y_pred[keep]


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted class."""
    t, p = _known_classes(y_true, y_pred)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def war(y_true, y_pred) -> float:
    t, p = _known_classes(y_true, y_pred)
    return float(skm.accuracy_score(t, p)) if len(t) else float("nan")


def uar(y_true, y_pred) -> float:
    """Mean recall over the classes PRESENT IN THE TRUE LABELS (= sklearn balanced accuracy).
    sklearn's recall_score(average="macro") instead averages over every class seen in truth or
    prediction, adding a 0 for each predicted class the fold does not contain; on small folds that
    lack a class this makes UAR depend on the model's wrong guesses, so it is not used."""
    t, p = _known_classes(y_true, y_pred)
    if not len(t):
        return float("nan")
    return float(skm.recall_score(t, p, labels=np.unique(t), average="macro", zero_division=0))


def weighted_f1(y_true, y_pred) -> float:
    """Per-class F1 weighted by class support (classes absent from the truth weigh 0)."""
    t, p = _known_classes(y_true, y_pred)
    if not len(t):
        return float("nan")
    return float(skm.f1_score(t, p, labels=np.unique(t), average="weighted", zero_division=0))


def classification_metrics(y_true, y_pred) -> dict:
    t, _ = _known_classes(y_true, y_pred)
    return {"WAR": war(y_true, y_pred), "UAR": uar(y_true, y_pred),
            "F1": weighted_f1(y_true, y_pred), "n": int(len(t))}


def regression_metrics(y_true, y_pred) -> dict:
    t, p = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    keep = np.isfinite(t)
    err = p[keep] - t[keep]
    if not len(err):
        return {"MAE": float("nan"), "MSE": float("nan"), "RMSE": float("nan"), "n": 0}
    mse = float(skm.mean_squared_error(t[keep], p[keep]))
    return {"MAE": float(skm.mean_absolute_error(t[keep], p[keep])), "MSE": mse, "RMSE": float(np.sqrt(mse)), "n": int(len(err))}


def per_batch_average(metric: Callable, y_true, y_pred, batch_size: int = 16) -> float:
    """The reference scripts' scoring: `metric` on each batch of the test order, then the mean.
    Biased; for comparison only (see the module doc)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = [metric(y_true[i:i + batch_size], y_pred[i:i + batch_size])
              for i in range(0, len(y_true), batch_size)]
    return float(np.nanmean(scores))
