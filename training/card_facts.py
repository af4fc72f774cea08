"""What a model card says about how its model was trained, so two different models never look
the same and a head that never saw a label is not presented as a reading:

- `heads`: per head (er, fer) whether it was trained, and on how many labelled samples of each
  kind (7-class, valence/arousal, ...). A head with no label of any kind was not trained: its
  output is the initialisation's, and the card says so; the app then shows no reading from it.
- `training`: epochs, seed, learning rate, batch size, method.
- `labels_sha256`: one digest over every training target, so models trained on different labels
  differ in their cards even when the sessions are the same.
"""

from __future__ import annotations

import hashlib

import numpy as np

# which targets train which head (training/data/common.TARGET_KEYS)
HEAD_TARGETS = {"er": ("er7", "er3", "er_va"), "fer": ("fer7", "fer3", "fer_va", "fer_int")}


def _labelled(values: np.ndarray) -> int:
    v = np.asarray(values)
    if v.dtype.kind in "iu":
        return int((v >= 0).sum())
    v = v.reshape(len(v), -1)
    return int(np.isfinite(v).all(axis=1).sum())


def head_facts(targets: dict) -> dict:
    """{"er": {"trained", "labelled": {target: n}}, "fer": {...}} from a dataset's targets."""
    out = {}
    for head, keys in HEAD_TARGETS.items():
        counts = {k: _labelled(targets[k]) for k in keys if k in targets}
        trained = any(counts.values())
        out[head] = {"trained": trained, "labelled": counts}
        if not trained:
            out[head]["why"] = f"no {head.upper()} label in the training data: this head was never trained"
    return out


def labels_digest(targets: dict) -> str:
    """SHA-256 over every target array (names, dtypes, shapes and values, in a fixed order)."""
    h = hashlib.sha256()
    for k in sorted(targets):
        a = np.ascontiguousarray(np.asarray(targets[k]))
        h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def training_facts(method: str, tcfg) -> dict:
    return {"method": method, "epochs": int(tcfg.epochs), "seed": int(tcfg.seed), "lr": float(tcfg.lr),
            "batch_size": int(tcfg.batch_size)}
