"""The paper's seven protocols and the baselines of its Tables II-IX, run by participant-independent
cross-validation into ONE results file.

EMERT is multi-task, so one trained model per fold answers all seven protocols (3-class ER,
7-class ER, ER valence/arousal, 3-class FER, 7-class FER, FER valence/arousal, FER intensity).
A *variant* is a model configuration; the tables name the variants they compare:

    main       Tables II-V   EMERT (all modalities, MAFD + EMT, ER + FER heads)
    modality   Table VI      F, E, G, F+E, F+G, E+G, F+E+G (F face, E eye movement, G fixation)
    multitask  Table VII     FER-only / FER+ER heads, ER-only / ER+FER heads
    modules    Table VIII    Transformer-fusion baseline, +MAFD, +EMT, +MAFD+EMT
    noise      Table IX      EMERT tested with Gaussian noise of variance 0.01 / 0.05 / 0.1 on
                             every modality's input (the models trained for "main")

Every variant is trained once per fold even when several tables use it. Metrics are computed on
each whole test fold and on all test folds pooled (every sample is tested exactly once);
predictions are kept for confusion matrices. On data with an emotion gap, the ER scores are also
reported on the masked samples alone (displayed expression != genuine emotion).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from torch.utils.data import Subset

from training import progress
from training.data.common import fold_eye_stats
from training.data.folds import participant_folds
from training.metrics import classification_metrics, regression_metrics
# the names the command line lists live where importing them is fast
from training.protocol_names import COMPARISON_METHODS, PROTOCOL_TITLES, PROTOCOLS, QUICK, TABLES  # noqa: F401
from training.trainer import TrainConfig, evaluate, seed_everything, train_model

log = logging.getLogger("training")

RESULTS_SCHEMA = "emer-train-results/1"
NOISE_VARIANCES = (0.01, 0.05, 0.1)
_MODS = {"F": "face", "E": "eye", "G": "fixation"}

# variant name -> changes to the base model config
VARIANTS = {
    "EMERT": {},
    "F": {"modalities": ("face",)},
    "E": {"modalities": ("eye",)},
    "G": {"modalities": ("fixation",)},
    "F+E": {"modalities": ("face", "eye")},
    "F+G": {"modalities": ("face", "fixation")},
    "E+G": {"modalities": ("eye", "fixation")},
    "ER only": {"tasks": ("er",)},
    "FER only": {"tasks": ("fer",)},
    "Baseline": {"use_mafd": False, "use_emt": False},
    "+MAFD": {"use_mafd": True, "use_emt": False},
    "+EMT": {"use_mafd": False, "use_emt": True},
}



def build_variant(name: str, base_cfg):
    """(model, its config) for a variant: EMERT with VARIANTS[name] applied to `base_cfg`, or a
    comparison method sharing base_cfg's width, face encoder and heads."""
    from training.models.emert import EMERT

    if name in COMPARISON_METHODS:
        from training.models.comparison import ComparisonConfig, build_comparison

        cfg = ComparisonConfig.from_base(name, base_cfg)
        return build_comparison(cfg), cfg
    cfg = replace(base_cfg, **VARIANTS[name])
    return EMERT(cfg), cfg


def variants_for(tables) -> list[str]:
    names: list[str] = []
    for t in tables:
        if t not in TABLES:
            raise ValueError(f"unknown table {t!r}; choose from {', '.join(TABLES)}")
        names += [v for v in TABLES[t] if v not in names]
    return names


def protocol_metrics(res: dict) -> dict:
    """{protocol: metrics} for the heads the model has, from evaluate()'s output."""
    out, y = res["out"], res["y"]
    m = {}
    for task in ("er", "fer"):
        if f"{task}_logits7" not in out:
            continue
        for k in ("3", "7"):
            m[f"{task}{k}"] = classification_metrics(y[f"{task}{k}"], out[f"{task}_logits{k}"].argmax(1))
        m[f"{task}_va"] = {"valence": regression_metrics(y[f"{task}_va"][:, 0], out[f"{task}_va"][:, 0]),
                           "arousal": regression_metrics(y[f"{task}_va"][:, 1], out[f"{task}_va"][:, 1])}
    if "fer_intensity" in out:
        m["fer_int"] = regression_metrics(y["fer_int"][:, 0], out["fer_intensity"][:, 0])
    return m


def _subset(res: dict, keep: np.ndarray) -> dict:
    return {"out": {k: v[keep] for k, v in res["out"].items()}, "y": {k: v[keep] for k, v in res["y"].items()}}


def gap_metrics(res: dict) -> dict:
    """ER (and FER) classification on the masked and unmasked samples separately."""
    masked = np.asarray(res["masked"], bool)
    out = {}
    for name, keep in (("masked", masked), ("unmasked", ~masked)):
        if keep.any():
            sub = protocol_metrics(_subset(res, keep))
            out[name] = {k: v for k, v in sub.items() if k in ("er3", "er7", "fer3", "fer7")}
            out[name]["n"] = int(keep.sum())
    return out


def _concat(results: list[dict]) -> dict:
    return {"out": {k: np.concatenate([r["out"][k] for r in results]) for k in results[0]["out"]},
            "y": {k: np.concatenate([r["y"][k] for r in results]) for k in results[0]["y"]},
            "masked": np.concatenate([r["masked"] for r in results])}


def _predictions(res: dict, index: np.ndarray, fold: int) -> dict:
    """What confusion matrices and later re-scoring need, as JSON lists."""
    p = {"index": index.tolist(), "fold": [fold] * len(index)}
    for k in ("er_logits7", "er_logits3", "fer_logits7", "fer_logits3"):
        if k in res["out"]:
            p[k.replace("_logits", "") + "_pred"] = res["out"][k].argmax(1).tolist()
    for k in ("er_va", "fer_va", "fer_intensity"):
        if k in res["out"]:
            p[k] = np.round(res["out"][k], 5).tolist()
    return p


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _json_safe(x.tolist())
    return x


def experiment_epochs(dataset, tables, folds: int, epochs: int) -> int:
    """How many epochs run_experiment trains in all (every variant, every fold): a RunProgress's total."""
    split = getattr(dataset, "predefined_folds", None)
    return len(variants_for(tables)) * (len(split) if split is not None else folds) * epochs


def run_experiment(dataset, tables=("main",), *, model_cfg=None, train_cfg: TrainConfig | None = None,
                   loss_cfg=None, folds: int = 5, seed: int = 0, out_path: str | Path | None = None,
                   checkpoint_root: str | Path | None = None, noise_variances=NOISE_VARIANCES,
                   train_fn=train_model, is_main: bool = True) -> dict:
    """Cross-validate every variant the `tables` need on `dataset`; return (and write) the results.
    train_fn: train_model, or training.distributed.train_distributed under torchrun (then only
    the main rank writes)."""
    from training.models.emert import EMERTConfig
    from training.models.losses import LossConfig

    model_cfg = model_cfg or EMERTConfig()
    train_cfg = train_cfg or TrainConfig()
    loss_cfg = loss_cfg or LossConfig()
    split = getattr(dataset, "predefined_folds", None)
    if split is not None:  # the release's own test sets (the reference code's split)
        folds = len(split)
    else:
        split = participant_folds(dataset.participants, folds, seed)
    names = variants_for(tables)
    t_start = time.perf_counter()
    results = {
        "schema": RESULTS_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "provenance": dataset.provenance,
        "tables": list(tables),
        "config": {"model": model_cfg.to_dict(), "train": asdict(train_cfg), "loss": asdict(loss_cfg),
                   "folds": folds, "cv_seed": seed, "noise_variances": list(noise_variances)},
        "seeds": {"cv": seed, "train": {str(f): train_cfg.seed + f for f in range(folds)}},
        "folds": [{"fold": f, "n_train": len(tr), "n_test": len(te),
                   "test_participants": sorted(set(np.asarray(dataset.participants)[te].tolist()))}
                  for f, (tr, te) in enumerate(split)],
        "labels": {k: np.asarray(dataset.targets[k]).tolist() for k in ("er7", "er3", "fer7", "fer3")}
        | {"masked": np.asarray(dataset.masked).astype(int).tolist(),
           "participant": np.asarray(dataset.participants).tolist()},
        "variants": {},
    }
    for name in names:
        fold_recs, fold_res, noisy = [], [], {v: [] for v in noise_variances}
        preds = {}
        for f, (tr, te) in enumerate(split):
            t0 = time.perf_counter()
            fseed = train_cfg.seed + f
            seed_everything(fseed)
            model, vcfg = build_variant(name, model_cfg)
            ckpt = Path(checkpoint_root) / name.replace(" ", "_").replace("+", "plus_") / f"fold{f}" if checkpoint_root else None
            tcfg = replace(train_cfg, seed=fseed, checkpoint_dir=str(ckpt) if ckpt else None)
            log.info("variant %s, fold %d/%d: %d train / %d test", name, f + 1, folds, len(tr), len(te))
            if progress.active() is not None:
                progress.active().stage(name, f, folds)
            with fold_eye_stats(dataset, tr):  # eye normalisation from the training folds only
                history = train_fn(model, Subset(dataset, tr), None, tcfg, loss_cfg)
                res = evaluate(model, Subset(dataset, te), device=train_cfg.device)
                rec = {"fold": f, "seed": fseed, "metrics": protocol_metrics(res), "gap": gap_metrics(res),
                       "history": history, "seconds": round(time.perf_counter() - t0, 2)}
                if "noise" in tables and name == "EMERT":  # Table IX reuses the main models
                    for v in noise_variances:
                        nres = evaluate(model, Subset(dataset, te), device=train_cfg.device, noise_var=v,
                                        noise_seed=fseed)
                        noisy[v].append(nres)
                        rec.setdefault("noise", {})[str(v)] = protocol_metrics(nres)
            fold_res.append(res)
            fold_recs.append(rec)
            for k, v in _predictions(res, te, f).items():
                preds.setdefault(k, []).extend(v)
        pooled = _concat(fold_res)
        entry = {"model_cfg": vcfg.to_dict(), "folds": fold_recs, "pooled": protocol_metrics(pooled),
                 "pooled_gap": gap_metrics(pooled), "predictions": preds}
        if any(noisy.values()):
            entry["pooled_noise"] = {str(v): protocol_metrics(_concat(rs)) for v, rs in noisy.items()}
        results["variants"][name] = entry
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    results = _json_safe(results)
    if out_path is not None and is_main:
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(out_path)
    return results
