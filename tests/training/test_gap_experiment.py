"""The gap experiment runs every method on the same participant folds and reports fold mean and sd."""

from __future__ import annotations

import numpy as np

from training.gap_experiment import LINEAR, NEURAL, SUBSETS, markdown_table, run


def test_methods_share_folds_and_report_mean_and_sd(tmp_path):
    methods = ["Face only", "LogReg: eye + fixation statistics"]
    res = run(n=42, participants=6, folds=2, epochs=1, d_model=8, methods=methods, cache_dir=tmp_path)
    assert list(res["methods"]) == methods and len(res["folds"]) == 2
    for name in methods:
        m = res["methods"][name]
        assert len(m["folds"]) == 2
        for s in SUBSETS:
            v = [f[s] for f in m["folds"]]
            assert np.isclose(m["summary"][s]["mean"], np.mean(v)) and np.isclose(m["summary"][s]["sd"], np.std(v, ddof=1))
    assert all(0.0 <= f[s] <= 1.0 for m in res["methods"].values() for f in m["folds"] for s in SUBSETS)
    table = markdown_table(res)
    assert table.count("\n") == 1 + len(methods) and "±" in table


def test_every_named_method_is_known():
    assert len(NEURAL) == 9 and len(LINEAR) == 2
    assert {"Face only", "Eye + fixation only"} <= set(NEURAL)
