"""`emer-train`: cross-validated protocol runs, reports, training, export, the default model.

    emer-train run er7 --dataset synthetic --quick --out results.json
    emer-train run modality --dataset emer:/data/EMER --folds 5 --epochs 30
    emer-train report results.json --out report/
    emer-train tables [--write | --check]
    emer-train train --dataset synthetic --out runs/emert
    emer-train export runs/emert --out models/ --name my-model --face-weights emotion_model.hdf5
    emer-train build-demo [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from emer_live.errors import EmerError

TRAIN_INFO = "train.json"


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic",
                   help="synthetic[:n=N,gap=F,face=embedding|image,participants=P,seed=S] | emer:PATH | sessions:PATH,...")
    p.add_argument("--epochs", type=int, help="default 20 (quick: 6)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, help="Adam learning rate, cosine decay (default 1e-4; quick: 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--d-model", type=int, help="feature width D (default 128; quick: 32)")
    p.add_argument("--face-encoder", choices=("embedding", "resnet18", "mini_xception"),
                   help="default: embedding for embedding datasets, resnet18 for images")
    p.add_argument("--face-weights", help="ResNet-18 state dict or mini-Xception .hdf5 for the face encoder")
    p.add_argument("--face-norm", default="auto", choices=("auto", "imagenet", "half", "unit"),
                   help="crop normalisation: auto = ImageNet mean/std for a ResNet-18 given weights, "
                        "[-1, 1] (half) for one trained from scratch, [0, 1] (unit) for the mini-Xception")
    p.add_argument("--window-s", type=float,
                   help="eye window in seconds (default: 8 for synthetic data, the whole sample/segment otherwise)")
    p.add_argument("--encoding", default="segment", choices=("segment", "point"), help="eye-v1 window encoding")
    p.add_argument("--cache", default=".cache/emer-train", help="cache folder for generated eye windows")
    p.add_argument("--quick", action="store_true", help="small set and model, few epochs: a smoke run in minutes")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress: neither bars nor the per-epoch lines (method, fold, epoch, ETA) on stderr")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0: in the main process)")
    p.add_argument("--distributed", action="store_true", help="train with DDP across a torchrun launch")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="emer-train", description="Train and evaluate EMERT (the EMER Live model).")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)

    from training.protocol_names import PROTOCOLS, TABLES

    r = sub.add_parser("run", help="cross-validate a protocol or a table's baselines; write one results JSON")
    r.add_argument("what", help=f"a protocol ({', '.join(PROTOCOLS)}), a table ({', '.join(TABLES)}) or 'all'")
    _model_args(r)
    r.add_argument("--folds", type=int, help="participant-independent folds (default 5; quick: 3)")
    r.add_argument("--out", default="results.json", help="results file (default results.json)")
    r.add_argument("--checkpoints", help="keep per-variant, per-fold checkpoints here (resumable)")

    p = sub.add_parser("report", help="Markdown tables and PNG figures from a results file")
    p.add_argument("results")
    p.add_argument("--out", required=True, help="output folder")

    tb = sub.add_parser("tables", help="the docs' result tables, rendered from docs/results/*.json (see training.doc_tables)")
    tb.add_argument("--write", action="store_true", help="put them into README.md and docs/training.md")
    tb.add_argument("--check", action="store_true", help="exit 1 if a doc's table differs from its rendering")
    tb.add_argument("--results", help="folder of the result files (default docs/results)")

    t = sub.add_parser("train", help="train one EMERT on a whole dataset (for export)")
    _model_args(t)
    t.add_argument("--out", required=True, help="checkpoint folder (last.pt + train.json); resumes if present")
    t.add_argument("--method", default="EMERT",
                   help="EMERT, or a comparison method: LMF, MulT, ResNet_LSTM, ResNet_Transformer, MMIM")

    e = sub.add_parser("export", help="export a trained checkpoint folder to ONNX + model card")
    e.add_argument("checkpoint_dir")
    e.add_argument("--out", required=True)
    e.add_argument("--name", required=True)
    e.add_argument("--face-weights", help="mini-Xception .hdf5 to put in front of a model trained on its embeddings")

    b = sub.add_parser("build-demo", aliases=["build-default"],
                       help="rebuild models/emert-demo.*, every step (see training.default_model)")
    b.add_argument("--out", help="output folder (default models/)")
    b.add_argument("--quick", action="store_true", help="small set, few epochs (a smoke build, not the shipped model)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--eye-schema", choices=("eye-v1", "eye-v2", "eye-v3"), help="default: the demo's (eye-v3)")
    b.add_argument("--tx300", help="folder of the real TX300 recordings (participant*/*.tsv; default: the shared data)")
    b.add_argument("--video", action="append", help="a real face video for the face step (repeatable; default: the "
                                                    "shared WolfgangLanger_Pexels.mp4 and single_face.mp4)")
    b.add_argument("--app-python", help="the app environment's python (MediaPipe), which runs the face step "
                                        "(default: $EMER_APP_PYTHON or .venv/bin/python)")
    b.add_argument("--face-logits", help="where the face step writes the faces' logits and training reads them "
                                         "(default: training/data/real_face_logits.npz)")
    b.add_argument("--reuse-face-logits", action="store_true", help="skip the face step, train on the stored file")
    return ap


def _setup(args):
    """(dataset, model_cfg, train_cfg) from the shared options."""
    from training.data import open_dataset
    from training.data.common import face_norm_for, face_norm_name
    from training.models.emert import EMERTConfig
    from training.protocols import QUICK
    from training.trainer import TrainConfig

    quick = args.quick
    syn = {"n": 360, "participants": 24} if quick else None
    ds = open_dataset(args.dataset, window_s=args.window_s, encoding=args.encoding, cache_dir=args.cache,
                      synthetic_defaults=syn)
    face_kind = getattr(ds, "face_mode", "image")
    enc = args.face_encoder or ("embedding" if face_kind == "embedding" else "resnet18")
    if (enc == "embedding") != (face_kind == "embedding"):
        raise EmerError(f"face encoder {enc!r} does not fit dataset {args.dataset!r}, whose faces are {face_kind}s")
    if face_kind != "embedding":
        ds.face_norm = face_norm_name(enc, args.face_weights, args.face_norm)
        ds.face_mean, ds.face_std = face_norm_for(enc, args.face_weights, args.face_norm)
    d = args.d_model or (QUICK["d_model"] if quick else 128)
    mcfg = EMERTConfig(d_model=d, face_encoder=enc, face_weights=args.face_weights,
                       n_layers=QUICK["n_layers"] if quick else 2, n_heads=QUICK["n_heads"] if quick else 4,
                       face_embed_dim=getattr(ds, "face_embed_dim", 7),
                       resnet_width=16 if quick and enc == "resnet18" else 64)
    tcfg = TrainConfig(epochs=args.epochs or (QUICK["epochs"] if quick else 20), batch_size=args.batch_size,
                       lr=args.lr or (QUICK["lr"] if quick else 1e-4), seed=args.seed, device=args.device,
                       progress=False if args.no_progress else None, num_workers=max(0, args.workers))
    return ds, mcfg, tcfg


def _train_fn(args):
    if not args.distributed:
        from training.trainer import train_model

        return train_model, True
    from training.distributed import init_from_env, train_distributed

    rank, _, _ = init_from_env()
    return train_distributed, rank == 0


def cmd_run(args) -> int:
    from training.progress import RunProgress, reporting
    from training.protocols import PROTOCOLS, PROTOCOL_TITLES, QUICK, TABLES, experiment_epochs, run_experiment
    from training.report import fold_mean

    if args.what == "all":
        tables = tuple(TABLES)
    elif args.what in TABLES:
        tables = (args.what,)
    elif args.what in PROTOCOLS:
        tables = ("main",)
    else:
        raise EmerError(f"unknown protocol or table {args.what!r}; choose from {', '.join(PROTOCOLS + tuple(TABLES))}, all")
    ds, mcfg, tcfg = _setup(args)
    train_fn, is_main = _train_fn(args)
    folds = args.folds or (QUICK["folds"] if args.quick else 5)
    predefined = getattr(ds, "predefined_folds", None)
    if predefined is not None and args.folds and args.folds != len(predefined):
        raise EmerError(f"--folds {args.folds} disagrees with the {len(predefined)} predefined test sets; leave it out")
    reporter = None
    if is_main and not args.no_progress:  # one line per epoch: method, fold, run share, ETA
        reporter = RunProgress(experiment_epochs(ds, tables, folds, tcfg.epochs))
    with reporting(reporter):
        res = run_experiment(ds, tables, model_cfg=mcfg, train_cfg=tcfg, folds=folds, seed=args.seed,
                             out_path=args.out if is_main else None, checkpoint_root=args.checkpoints,
                             train_fn=train_fn, is_main=is_main)
    if not is_main:
        return 0
    print(f"wrote {args.out} ({res['seconds']} s); data: {res['provenance'].get('note', res['provenance'].get('kind'))}")
    shown = [args.what] if args.what in PROTOCOLS else ["er7", "fer7"]
    for name, v in res["variants"].items():
        for p in shown:
            m = v["pooled"].get(p)
            if m is not None:
                print(f"  {name:10s} {PROTOCOL_TITLES[p]:20s} pooled " + _fmt(m))
                if "WAR" in m and len(v["folds"]) > 1:  # the paper's figure: the mean over folds
                    fm = {k: fold_mean(v, (p,), k) for k in ("WAR", "UAR", "F1")}
                    print(f"  {'':10s} {'':20s} fold mean " + " ".join(f"{k} {x[0]:.3f}±{x[1]:.3f}"
                                                                    for k, x in fm.items() if x))
        g = v["pooled_gap"].get("masked", {}).get("er7")
        if g:
            print(f"  {name:10s} {'7-class ER, masked':20s} WAR {g['WAR']:.3f} (n={g['n']})")
    return 0


def _fmt(m: dict) -> str:
    if "WAR" in m:
        return f"WAR {m['WAR']:.3f} UAR {m['UAR']:.3f} F1 {m['F1']:.3f}"
    if "MAE" in m:
        return f"MAE {m['MAE']:.3f} MSE {m['MSE']:.3f} RMSE {m['RMSE']:.3f}"
    return "  ".join(f"{k}: {_fmt(v)}" for k, v in m.items())


def cmd_report(args) -> int:
    from training.report import write_report

    index = write_report(args.results, args.out)
    print(f"wrote {index}")
    return 0


def cmd_tables(args) -> int:
    from training.doc_tables import main as tables_main

    return tables_main(args)


def cmd_train(args) -> int:
    import numpy as np

    from training.card_facts import head_facts, labels_digest, training_facts
    from training.progress import RunProgress, reporting
    from training.protocols import COMPARISON_METHODS, build_variant
    from training.trainer import seed_everything

    if args.method not in ("EMERT", *COMPARISON_METHODS):
        raise EmerError(f"unknown method {args.method!r}; choose EMERT or one of {', '.join(COMPARISON_METHODS)}")
    ds, mcfg, tcfg = _setup(args)
    train_fn, is_main = _train_fn(args)
    out = Path(args.out)
    tcfg = replace(tcfg, checkpoint_dir=str(out), resume=True)
    seed_everything(tcfg.seed)
    model, mcfg = build_variant(args.method, mcfg)
    reporter = RunProgress(tcfg.epochs) if is_main and not args.no_progress else None
    if reporter is not None:
        reporter.stage(args.method)
    with reporting(reporter):
        history = train_fn(model, ds, None, tcfg)
    if is_main:
        # the live window must match what the model saw: a whole-sample window becomes its mean length
        window_s = ds.window_s or float(np.mean(ds.durations_s))
        window_s = window_s if np.isfinite(window_s) else None  # preprocessed arrays: no durations
        if not ds.window_s and window_s is not None:
            print(f"emer-train: trained on whole segments (no --window-s): the card's window is their mean length, "
                  f"{window_s:.2f} s (segments {float(np.min(ds.durations_s)):.2f}-{float(np.max(ds.durations_s)):.2f} s)",
                  file=sys.stderr)
        info = {"method": args.method, "model_cfg": mcfg.to_dict(), "window_s": window_s, "encoding": args.encoding,
                "eye_mean": ds.eye_mean.tolist(), "eye_std": ds.eye_std.tolist(),
                "face_mean": list(getattr(ds, "face_mean", (0.0, 0.0, 0.0))),
                "face_std": list(getattr(ds, "face_std", (1.0, 1.0, 1.0))),
                "face_norm": getattr(ds, "face_norm", None),
                "provenance": ds.provenance, "history": history,
                "heads": head_facts(ds.targets), "labels_sha256": labels_digest(ds.targets),
                "training": training_facts(args.method, tcfg)}
        for head, facts in info["heads"].items():
            if not facts["trained"]:
                print(f"emer-train: the {head.upper()} head saw no label and is not trained; the exported card "
                      "declares it untrained", file=sys.stderr)
        recipe = getattr(ds, "crop_recipe", None)  # recorded sessions: the crop their faces were cut with
        if recipe is not None:
            info["crop_recipe"] = recipe.to_card()
        (out / TRAIN_INFO).write_text(json.dumps(info, indent=1))
        print(f"wrote {out / 'last.pt'} and {out / TRAIN_INFO}")
    return 0


def cmd_export(args) -> int:
    from training.export import export_model
    from training.models.emert import EMERT, EMERTConfig
    from training.trainer import CHECKPOINT_NAME, load_checkpoint

    folder = Path(args.checkpoint_dir)
    info_path = folder / TRAIN_INFO
    if not info_path.is_file():
        raise EmerError(f"{info_path} not found: export takes a folder written by `emer-train train`")
    info = json.loads(info_path.read_text())
    method = info.get("method", "EMERT")
    if method == "EMERT":
        cfg, build = EMERTConfig(**info["model_cfg"]), EMERT
    else:
        from training.models.comparison import ComparisonConfig, build_comparison

        cfg, build = ComparisonConfig.from_dict(info["model_cfg"]), build_comparison
    model = build(cfg)
    load_checkpoint(folder / CHECKPOINT_NAME, model)
    face_mean, face_std, face_norm = info["face_mean"], info["face_std"], info.get("face_norm")
    if cfg.face_encoder == "embedding":
        # trained on mini-Xception embeddings: put the real network in front for the app
        if not args.face_weights:
            raise EmerError(f"{folder} holds a model trained on face embeddings; give --face-weights "
                            "(the mini-Xception .hdf5) to put the face network in front of it")
        face = dict(face_encoder="mini_xception", face_weights=args.face_weights, freeze_face=True)
        cfg = cfg.replace_shared(**face) if method != "EMERT" else replace(cfg, **face)
        deployed = build(cfg)
        _load_all_but_face_encoder(deployed, model.state_dict(), folder / CHECKPOINT_NAME)
        model, face_mean, face_std, face_norm = deployed, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "unit"
    data = info["provenance"]
    if data.get("eye_source") == "arrays":
        raise EmerError(f"{folder} was trained on the release's preprocessed eye arrays, which the app cannot "
                        "compute from a live tracker; train on the Pro Lab exports (eye=prolab) to deploy a model")
    if data.get("kind") == "sessions":  # name the recordings, so a lab can tell its models apart
        summary = (f"{method} trained on {len(data['sessions'])} recorded sessions of {data['n_participants']} "
                   f"participants ({data['n']} segments): {', '.join(data['sessions'])}")
    else:
        summary = f"{method} trained on {data.get('kind', 'unknown')} data" + (f" ({data['note']})" if data.get("note") else "")
    prov = {"kind": data.get("kind", "unknown"), "summary": summary, "data": data,
            **{k: info[k] for k in ("labels_sha256", "training") if k in info}}
    from emer_live.features.face_crop import CropRecipe

    recipe = CropRecipe.from_card(info["crop_recipe"]) if info.get("crop_recipe") else None
    card = export_model(model, cfg, args.out, args.name, info["window_s"], info["encoding"], info["eye_mean"],
                        info["eye_std"], face_mean, face_std, prov, {"train_history": info["history"][-1:]},
                        face_norm=face_norm, crop_recipe=recipe, heads=info.get("heads"))
    exported = json.loads(Path(card).read_text())
    parity = exported["export"]["parity_max_abs_diff"]
    print(f"wrote {card}")
    print("ONNX Runtime vs PyTorch, largest absolute difference (batches 1 and 4): "
          + ", ".join(f"{k} {v:.2e}" for k, v in parity.items()))
    for head, facts in (exported.get("heads") or {}).items():
        if not facts.get("trained", True):
            print(f"the {head.upper()} head was never trained (no {head.upper()} label): the card declares it untrained")
    return 0


def _load_all_but_face_encoder(model, state: dict, source) -> None:
    """Load a checkpoint trained on face embeddings into a model with the face network in front:
    every tensor must fit except the face encoder's own, which come from --face-weights."""
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith("face_encoder."))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = [f"missing {missing[:4]}" if missing else "", f"unexpected {unexpected[:4]}" if unexpected else "",
                 f"wrong shape {[(k, list(state[k].shape), list(own[k].shape)) for k in wrong[:3]]}" if wrong else ""]
        raise EmerError(f"{source} does not fit the model with the face network in front: "
                        + "; ".join(p for p in parts if p))
    model.load_state_dict({**own, **state}, strict=True)


def cmd_build_demo(args) -> int:
    from training import default_model

    return default_model.run_all(args)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return {"run": cmd_run, "report": cmd_report, "tables": cmd_tables, "train": cmd_train, "export": cmd_export,
                "build-demo": cmd_build_demo, "build-default": cmd_build_demo}[args.cmd](args)
    except EmerError as e:
        print(f"emer-train: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
