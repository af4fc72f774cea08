"""What cards record about training: which heads saw labels, a digest of the labels, the run."""

from __future__ import annotations

import numpy as np

from training.card_facts import head_facts, labels_digest, training_facts
from training.trainer import TrainConfig


def _targets(fer7):
    return {"er7": np.array([1, 0, -1]), "er3": np.array([1, 0, -1]),
            "er_va": np.array([[0.1, 0.2], [np.nan, np.nan], [0.0, 0.3]], np.float32),
            "fer7": np.asarray(fer7), "fer3": np.array([-1, -1, -1]),
            "fer_va": np.full((3, 2), np.nan, np.float32), "fer_int": np.full((3, 1), np.nan, np.float32)}


def test_a_head_with_no_label_is_declared_untrained():
    facts = head_facts(_targets([-1, -1, -1]))
    assert facts["er"] == {"trained": True, "labelled": {"er7": 2, "er3": 2, "er_va": 2}}
    assert facts["fer"]["trained"] is False and "never trained" in facts["fer"]["why"]
    assert head_facts(_targets([-1, 3, -1]))["fer"] == {"trained": True, "labelled": {"fer7": 1, "fer3": 0,
                                                                                       "fer_va": 0, "fer_int": 0}}


def test_the_labels_digest_tells_different_labels_apart():
    a, b = _targets([-1, -1, -1]), _targets([-1, -1, -1])
    assert labels_digest(a) == labels_digest(b)
    b["er7"] = np.array([1, 2, -1])
    assert labels_digest(a) != labels_digest(b)
    assert training_facts("EMERT", TrainConfig(epochs=3, seed=7)) == {"method": "EMERT", "epochs": 3, "seed": 7,
                                                                      "lr": 1e-4, "batch_size": 16}
