"""Markdown tables laid out like the paper's Tables II-IX, confusion matrices and the ER-vs-FER
label confusion (the paper's Fig. 7) as PNG, all from one results file of training.protocols.

Each cell gives two numbers: the score over all test folds pooled (each sample scored once), then
in brackets the mean ± standard deviation of the per-fold scores, which is what the paper (and its
reference code) report. Classification in %, regression unscaled. Below each of our rows, where
the paper has the same method under the same protocol, its own number (EMER, fold mean) follows in
italics: comparable only on EMER, under the same folds protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from emer_live.errors import EmerError  # noqa: E402
from emer_live.labels import CLASSES_3, EMOTIONS_7  # noqa: E402
from training.metrics import confusion_matrix  # noqa: E402
from training import paper_numbers as P  # noqa: E402
from training.protocols import COMPARISON_METHODS, RESULTS_SCHEMA, TABLES  # noqa: E402

CLS = ("WAR", "UAR", "F1")
REG = ("MAE", "MSE", "RMSE")


def load_results(path: str | Path) -> dict:
    path = Path(path)
    try:
        res = json.loads(path.read_text())
    except FileNotFoundError:
        raise EmerError(f"results file {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as e:
        raise EmerError(f"results file {path} is not readable JSON: {e}") from e
    if not isinstance(res, dict) or res.get("schema") != RESULTS_SCHEMA:
        raise EmerError(f"{path} is not an emer-train results file (schema {RESULTS_SCHEMA!r} expected)")
    return res


# ---- numbers -------------------------------------------------------------------------------------
def _get(d: dict | None, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _cell(v: dict, path: tuple, metric: str, pct: bool) -> str:
    """"pooled (fold mean ±sd)"."""
    pooled = _get(v, "pooled", *path, metric)
    if pooled is None:
        return "—"
    per_fold = np.asarray([x for x in (_get(f, "metrics", *path, metric) for f in v["folds"]) if x is not None])
    scale = 100.0 if pct else 1.0
    fmt = "{:.2f}" if pct else "{:.3f}"
    s = fmt.format(pooled * scale)
    if len(per_fold) > 1:
        s += f" ({fmt.format(per_fold.mean() * scale)} ±{fmt.format(per_fold.std() * scale)})"
    return s


def fold_mean(v: dict, path: tuple, metric: str) -> tuple[float, float] | None:
    """(mean, sd) of a metric over the folds, as the paper reports it; None if absent."""
    xs = [x for x in (_get(f, "metrics", *path, metric) for f in v["folds"]) if x is not None]
    return (float(np.mean(xs)), float(np.std(xs))) if xs else None


def _paper(name: str, values: list) -> list[str]:
    return [f"*{name}, paper*"] + [f"*{x:.2f}*" if isinstance(x, float) and x > 1.5 else f"*{x:.3f}*" if x is not None
                                   else "—" for x in values]


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _cls_row(v, protocols=("er", "fer"), k="7"):
    return [_cell(v, (f"{t}{k}",), m, True) for t in protocols for m in CLS]


def _check(b: bool) -> str:
    return "✓" if b else ""


# ---- tables ------------------------------------------------------------------------------------------
def tables_markdown(res: dict) -> str:
    V = res["variants"]
    parts = []
    cls_head = [f"ER {m} (↑)" for m in CLS] + [f"FER {m} (↑)" for m in CLS]
    compared = [n for n in (*COMPARISON_METHODS, "EMERT") if n in V]
    if compared:
        for title, k, paper in (("Table II: 3-class ER and FER", "3", P.TABLE_II), ("Table III: 7-class ER and FER", "7", P.TABLE_III)):
            rows = []
            for n in compared:
                rows.append([n] + _cls_row(V[n], k=k))
                if n in paper:
                    rows.append(_paper(n, [paper[n][t][m] for t in ("er", "fer") for m in CLS]))
            parts.append(f"### {title}\n\n" + _table(["Model"] + cls_head, rows))
        va_head = [f"{t} {d} {m} (↓)" for t in ("ER", "FER") for d in ("Arousal", "Valence") for m in REG]
        rows = []
        for n in compared:
            rows.append([n] + [_cell(V[n], (f"{t}_va", d), m, False) for t in ("er", "fer") for d in ("arousal", "valence")
                               for m in REG])
            if n in P.TABLE_IV:
                rows.append(_paper(n, [P.TABLE_IV[n][(t, d)][m] for t in ("er", "fer") for d in ("arousal", "valence")
                                       for m in REG]))
        parts.append("### Table IV: valence and arousal regression, ER and FER\n\n" + _table(["Model"] + va_head, rows))
        rows = []
        for n in compared:
            rows.append([n] + [_cell(V[n], ("fer_int",), m, False) for m in REG])
            if n in P.TABLE_V:
                rows.append(_paper(n, list(P.TABLE_V[n])))
        parts.append("### Table V: FER intensity regression\n\n" + _table(["Model"] + [f"{m} (↓)" for m in REG], rows))
    mod = [n for n in TABLES["modality"] if n in V]
    if len(mod) > 1:
        rows = []
        for n in mod:
            mods = V[n]["model_cfg"]["modalities"]
            rows.append([_check("face" in mods), _check("eye" in mods), _check("fixation" in mods)] + _cls_row(V[n]))
            if n in P.TABLE_VI:
                rows.append(["", "", "*paper*"] + _paper(n, [P.TABLE_VI[n][t][m] for t in ("er", "fer") for m in CLS])[1:])
        parts.append("### Table VI: modality ablation, 7-class ER and FER (F face, E eye movements, G fixation)\n\n"
                     + _table(["F", "E", "G"] + cls_head, rows))
    if all(n in V for n in TABLES["multitask"]):
        rows = []
        for task, single in (("fer", "FER only"), ("er", "ER only")):
            for name, other in ((single, False), ("EMERT", True)):
                heads = ["—", "✓" if other else "✗"] if task == "fer" else ["✓" if other else "✗", "—"]
                rows.append([task.upper()] + heads + [_cell(V[name], (f"{task}3",), m, True) for m in CLS])
                rows.append(["*paper*", "", ""] + _paper(name, list(P.TABLE_VII[(task, name)]))[1:])
        parts.append("### Table VII: single-task vs multi-task, 3-class\n\n"
                     + _table(["Model", "FER head", "ER head"] + [f"{m} (↑)" for m in CLS], rows))
    modl = [n for n in TABLES["modules"] if n in V]
    if len(modl) > 1:
        rows = []
        for n in modl:
            rows.append(["✓", _check(V[n]["model_cfg"]["use_mafd"]), _check(V[n]["model_cfg"]["use_emt"])] + _cls_row(V[n]))
            rows.append(["", "", "*paper*"] + _paper(n, [P.TABLE_VIII[n][t][m] for t in ("er", "fer") for m in CLS])[1:])
        parts.append("### Table VIII: module ablation, 7-class ER and FER\n\n" + _table(["Baseline", "MAFD", "EMT"] + cls_head, rows))
    noise = _get(V, "EMERT", "pooled_noise")
    if noise:
        vs = list(noise)
        row = [f"{100 * _get(noise[v], 'er3', 'WAR'):.2f}/{100 * _get(noise[v], 'er3', 'F1'):.2f}" for v in vs]
        clean = _get(V, "EMERT", "pooled", "er3")
        parts.append("### Table IX: robustness to Gaussian noise on every input, 3-class ER (WAR/F1)\n\n"
                     + _table(["Method", "no noise"] + [f"variance {v}" for v in vs],
                              [["EMERT", f"{100 * clean['WAR']:.2f}/{100 * clean['F1']:.2f}"] + row]
                              + [[f"*{m}, paper*", "—"] + [f"*{P.TABLE_IX[m][float(v)][0]:.2f}/{P.TABLE_IX[m][float(v)][1]:.2f}*"
                                                            if float(v) in P.TABLE_IX[m] else "—" for v in vs]
                                 for m in P.TABLE_IX]))
    gap_rows = []
    for n, v in V.items():
        g = v.get("pooled_gap", {})
        if _get(g, "masked", "er7") is None:
            continue
        gap_rows.append([n] + [f"{100 * _get(g, s, f'er{k}', 'WAR'):.2f}" if _get(g, s, f"er{k}") else "—"
                               for s in ("masked", "unmasked") for k in ("7", "3")]
                        + [str(_get(g, "masked", "n"))])
    if gap_rows:
        parts.append("### Emotion gap: ER accuracy (WAR) on masked samples (displayed expression ≠ genuine emotion)\n\n"
                     + _table(["Model", "masked 7-class", "masked 3-class", "unmasked 7-class", "unmasked 3-class", "n masked"], gap_rows))
    return "\n\n".join(parts)


# ---- figures -----------------------------------------------------------------------------------------
def _plot_cm(ax, cm: np.ndarray, labels, title: str, xlabel: str, ylabel: str) -> None:
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{frac[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)


def _figure(pairs: list, path: Path, suptitle: str) -> Path:
    cols = min(2, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 5.0 * rows), squeeze=False)
    for ax, args in zip(axes.ravel(), pairs):
        _plot_cm(ax, *args)
    for ax in axes.ravel()[len(pairs):]:
        ax.axis("off")
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _gap_figure(res: dict, path: Path) -> Path | None:
    """ER accuracy per variant on masked vs unmasked samples (the emotion gap at a glance)."""
    rows = [(n, v["pooled_gap"]) for n, v in res["variants"].items() if _get(v, "pooled_gap", "masked", "er7")]
    if not rows:
        return None
    bars = [("masked", "7"), ("masked", "3"), ("unmasked", "7"), ("unmasked", "3")]
    x = np.arange(len(rows))
    w = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(max(7.5, 1.3 * len(rows) + 2), 4.2))
    for k, (subset, c) in enumerate(bars):
        vals = [100 * (_get(g, subset, f"er{c}", "WAR") or 0.0) for _, g in rows]
        b = ax.bar(x + (k - 1.5) * w, vals, w, label=f"{subset}, {c}-class")
        ax.bar_label(b, fmt="%.0f", fontsize=7)
    ax.set_xticks(x, [n for n, _ in rows])
    ax.set_ylabel("ER WAR (%)")
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title("ER accuracy on masked samples (face shows another emotion) and unmasked ones", fontsize=10)
    ax.legend(fontsize=8, ncol=4, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_figures(res: dict, out: Path) -> list[Path]:
    lab = {k: np.asarray(v) for k, v in res["labels"].items()}
    files = []
    names = {"7": EMOTIONS_7, "3": CLASSES_3}
    # Fig. 7: how the genuine-emotion (ER) labels spread over facial-expression (FER) labels
    files.append(_figure([(confusion_matrix(lab[f"er{k}"], lab[f"fer{k}"], len(names[k])), names[k],
                           f"{k}-class ER vs FER labels", "FER label", "ER label") for k in ("7", "3")],
                         out / "fig7_er_vs_fer_labels.png", "ER-vs-FER label confusion (as the paper's Fig. 7)"))
    gap = _gap_figure(res, out / "gap_er_on_masked.png")
    if gap is not None:
        files.append(gap)
    for vname, v in res["variants"].items():
        p = v.get("predictions", {})
        if "index" not in p:
            continue
        idx = np.asarray(p["index"])
        pairs = []
        for task in ("er", "fer"):
            for k in ("7", "3"):
                if f"{task}{k}_pred" in p:
                    cm = confusion_matrix(lab[f"{task}{k}"][idx], np.asarray(p[f"{task}{k}_pred"]), len(names[k]))
                    pairs.append((cm, names[k], f"{k}-class {task.upper()}", "predicted", "true"))
        if pairs:
            safe = vname.replace(" ", "_").replace("+", "plus_")
            files.append(_figure(pairs, out / f"confusion_{safe}.png", f"{vname}: confusion over all test folds"))
    return files


# ---- the report ------------------------------------------------------------------------------------
def _provenance_block(res: dict) -> str:
    prov = res.get("provenance", {})
    lines = []
    if prov.get("kind") == "synthetic":
        lines.append("> **Synthetic data.** These numbers test the pipeline and show the mechanism; they are not "
                     "the accuracy of any model on real people.")
    lines.append("")
    lines.append("Data: `" + json.dumps(prov, sort_keys=True) + "`")
    return "\n".join(lines)


def write_report(results_path: str | Path, out_dir: str | Path) -> Path:
    res = load_results(results_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = write_figures(res, out)
    cfg = res["config"]
    folds = res["folds"]
    head = [
        "# EMERT results",
        "",
        _provenance_block(res),
        "",
        f"{cfg['folds']}-fold participant-independent cross-validation (CV seed {cfg['cv_seed']}; training seeds "
        f"{', '.join(str(s) for s in res['seeds']['train'].values())}); test folds of "
        f"{', '.join(str(f['n_test']) for f in folds)} samples. Scores are over all test folds pooled "
        "(each sample scored once, never averaged per batch), then in brackets the mean ± standard deviation of "
        "the per-fold scores (the paper's figure). Classification in %, regression unscaled. Rows in italics are "
        "the paper's own numbers for the same method and protocol (EMER, 5-fold mean): comparable only with a run "
        "on EMER.",
        "",
        f"Model: `{json.dumps({k: cfg['model'][k] for k in ('d_model', 'face_encoder', 'n_layers', 'n_heads')})}`; "
        f"training: `{json.dumps({k: cfg['train'][k] for k in ('epochs', 'batch_size', 'lr')})}`; "
        f"loss: `{json.dumps(cfg['loss'])}`; created {res['created']}, {res.get('seconds', '?')} s.",
        "",
    ]
    body = tables_markdown(res)
    fig_md = "\n\n".join(f"![{f.stem}]({f.name})" for f in figs)
    md = "\n".join(head) + "\n" + body + "\n\n## Figures\n\n" + fig_md + "\n"
    index = out / "report.md"
    index.write_text(md)
    return index

