"""The result tables in README.md and docs/training.md, rendered from the committed result files
that their commands wrote, so no figure in them is copied by hand:

    emer-train tables            # print every table from docs/results/*.json
    emer-train tables --write    # put them into the docs (after a new run: copy its JSON there first)
    emer-train tables --check    # exit 1 if a doc's table differs from its rendering

| result file | written by | tables |
|---|---|---|
| docs/results/comparison.json | `emer-train run comparison --dataset synthetic --quick --out ...` | docs/training.md, comparison methods |
| docs/results/gap.json | `python -m training.gap_experiment --n 720 --participants 36 --folds 3 --epochs 10 --d-model 32 --out ...` | docs/training.md, gap experiment; README.md, its main rows |

Each table in a doc follows a marker line `<!-- emer-train tables: NAME -->` and is the block of
table lines right after it. Reading a result file needs no torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from emer_live.errors import EmerError

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "docs" / "results"
COMPARISON_SCHEMA = "emer-train-results/1"  # training.protocols.RESULTS_SCHEMA (which imports torch)
GAP_SCHEMA = "emer-gap-experiment/1"  # training.gap_experiment.SCHEMA
GAP_SUBSETS = ("overall", "masked", "unmasked")
# The README shows the gap experiment's headline rows: EMERT as shipped, its plain-fusion ablation,
# each modality alone and the two logistic-regression baselines.
README_GAP_METHODS = ("EMERT reversal + reference weighting", "Ablation: no MAFD, no EMT", "Face only",
                      "Eye + fixation only", "LogReg: eye + fixation statistics",
                      "LogReg: eye + fixation statistics + mean face logits")
MARKER = "<!-- emer-train tables: {} -->"


def load(path: str | Path, schema: str) -> dict:
    path = Path(path)
    try:
        res = json.loads(path.read_text())
    except FileNotFoundError:
        raise EmerError(f"results file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EmerError(f"results file {path} is not readable JSON: {e}") from None
    if not isinstance(res, dict) or res.get("schema") != schema:
        raise EmerError(f"{path} is not a {schema!r} results file")
    return res


def _fold_stats(values: list) -> tuple[float, float]:
    """Mean and population sd over folds, as training.report.fold_mean gives them."""
    n = len(values)
    mean = sum(values) / n
    return mean, (sum((x - mean) ** 2 for x in values) / n) ** 0.5


def _pct(v: dict, protocol: str, metric: str) -> str:
    """"pooled (fold mean ±sd)" in % with one decimal."""
    pooled = v["pooled"][protocol][metric]
    folds = [f["metrics"][protocol][metric] for f in v["folds"] if f.get("metrics", {}).get(protocol)]
    mean, sd = _fold_stats(folds)
    return f"{pooled * 100:.1f} ({mean * 100:.1f} ±{sd * 100:.1f})"


def comparison_markdown(res: dict) -> str:
    """7-class ER and FER of every method, pooled (fold mean ± sd), and masked-sample ER WAR, in %."""
    head = ["method", "ER WAR", "ER UAR", "ER F1", "FER WAR", "FER UAR", "FER F1", "masked ER WAR"]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for name, v in res["variants"].items():
        cells = [_pct(v, p, m) for p in ("er7", "fer7") for m in ("WAR", "UAR", "F1")]
        cells.append(f"{v['pooled_gap']['masked']['er7']['WAR'] * 100:.1f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def gap_markdown(res: dict, methods=None) -> str:
    """ER 7-class accuracy, fold mean ± sd (ddof 1), overall and on masked / unmasked test samples."""
    rows = ["| method | overall | masked | unmasked |", "|---|---|---|---|"]
    for name, m in res["methods"].items():
        if methods is not None and name not in methods:
            continue
        s = m["summary"]
        rows.append(f"| {name} | " + " | ".join(f"{s[k]['mean']:.3f} ± {s[k]['sd']:.3f}" for k in GAP_SUBSETS) + " |")
    return "\n".join(rows)


# name -> (result file, schema, renderer, docs holding it)
TABLES = {
    "comparison": ("comparison.json", COMPARISON_SCHEMA, comparison_markdown, ("docs/training.md",)),
    "gap": ("gap.json", GAP_SCHEMA, gap_markdown, ("docs/training.md",)),
    "gap-readme": ("gap.json", GAP_SCHEMA, lambda r: gap_markdown(r, README_GAP_METHODS), ("README.md",)),
}


def render(name: str, results_dir: Path = RESULTS_DIR) -> str:
    file, schema, renderer, _ = TABLES[name]
    return renderer(load(results_dir / file, schema))


def _table_span(lines: list[str], name: str, doc: str) -> tuple[int, int]:
    """(first, end) line indices of the table after the marker."""
    marker = MARKER.format(name)
    at = [i for i, x in enumerate(lines) if x.strip() == marker]
    if len(at) != 1:
        raise EmerError(f"{doc}: {len(at)} lines are {marker!r} (one expected)")
    first = at[0] + 1
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    if end == first:
        raise EmerError(f"{doc}: no table right after {marker!r}")
    return first, end


def documented(name: str, doc: str, repo: Path = REPO) -> str:
    lines = (repo / doc).read_text(encoding="utf-8").splitlines()
    first, end = _table_span(lines, name, doc)
    return "\n".join(lines[first:end])


def write(name: str, table: str, doc: str, repo: Path = REPO) -> bool:
    """Put the table into the doc; True if it changed."""
    path = repo / doc
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    first, end = _table_span(lines, name, doc)
    new = lines[:first] + table.splitlines() + lines[end:]
    out = "\n".join(new) + ("\n" if text.endswith("\n") else "")
    path.write_text(out, encoding="utf-8")
    return out != text


def differences(results_dir: Path = RESULTS_DIR, repo: Path = REPO) -> list[str]:
    """Each doc table that is not its rendering, named."""
    out = []
    for name, (*_, docs) in TABLES.items():
        table = render(name, results_dir)
        out += [f"{doc}: table {name!r} differs from its rendering of {TABLES[name][0]}"
                for doc in docs if documented(name, doc, repo) != table]
    return out


def main(args) -> int:
    results = Path(args.results) if args.results else RESULTS_DIR
    if args.check:
        diff = differences(results)
        for d in diff:
            print(d)
        print("the docs' tables are their renderings" if not diff else "run `emer-train tables --write`")
        return 1 if diff else 0
    for name, (file, _, _, docs) in TABLES.items():
        table = render(name, results)
        if args.write:
            changed = [doc for doc in docs if write(name, table, doc)]
            print(f"{name}: {', '.join(changed) + ' updated' if changed else 'unchanged'} (from {results / file})")
        else:
            print(f"{name} ({', '.join(docs)}; from {results / file}):\n{table}\n")
    return 0
