"""ONNX Runtime vs PyTorch eager on the same exported EMERT, in the same run.

    python -m training.bench [--card models/emert-demo.card.json] [--out bench-results]

The model is built with the architecture the card names (the default model's when no card is
found), exported with training.export.export_model to a temporary folder, and then the face
encoder, the fusion graph and the full graph are timed in ONNX Runtime (CPU) and in PyTorch
eager (no_grad, eval) on the same inputs, at batch 1 and batched. Outputs are compared too.
The weights are the architecture's initial ones: speed does not depend on their values.

Writes OUT/bench_torch.json and merges it into OUT/bench.json (key "ort_vs_torch") and
OUT/bench.md when `emer-live bench --out OUT` wrote them, else starts them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from emer_live.bench.machine import describe_machine
from emer_live.bench.report import render_markdown
from emer_live.bench.stats import ratio, summarize_ms
from training.export import FaceEncoderGraph, FullGraph, export_model
from training.models.emert import EMERT, EMERTConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CARD = REPO / "models" / "emert-demo.card.json"
# The default model's architecture (training/default_model.py), used when no card is found.
DEMO_CONFIG = dict(face_encoder="mini_xception", d_model=64, n_heads=4, n_layers=2, dropout=0.1)
CROP, FRAMES, STEPS = 112, 8, 32


def model_config(card: Path | None) -> tuple[EMERTConfig, str]:
    if card is not None and card.is_file():
        arch = json.loads(card.read_text(encoding="utf-8")).get("architecture", {}).get("config")
        if arch:
            arch = {**arch, "face_weights": None, "freeze_face": False}
            keep = set(EMERTConfig.__dataclass_fields__)
            return EMERTConfig(**{k: v for k, v in arch.items() if k in keep}), f"architecture of {card.name}"
    return EMERTConfig(**DEMO_CONFIG), "architecture of the default model (mini-Xception face encoder, d_model 64)"


def _time(fn, repeats: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def compare(cfg: EMERTConfig, repeats: int = 100, batch: int = 16, seed: int = 0, threads: int = 1) -> dict:
    """threads: intra-op threads for both runtimes (0 = each library's default). One thread each is
    the fair default on a shared machine: OpenMP's spinning threads collapse when cores are busy."""
    torch.manual_seed(seed)
    opts = ort.SessionOptions()
    if threads > 0:
        torch.set_num_threads(threads)
        opts.intra_op_num_threads = threads
    model = EMERT(cfg).eval()
    D = cfg.face_dim
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        card = export_model(model, cfg, tmp, "bench", 8.0, "segment", np.zeros(39), np.ones(39),
                            (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), {"kind": "benchmark", "summary": "benchmark export"}, {})
        graphs = json.loads(Path(card).read_text())["graphs"]
        sess = {k: ort.InferenceSession(str(Path(tmp) / v), sess_options=opts, providers=["CPUExecutionProvider"])
                for k, v in graphs.items()}
        face_m, full_m = FaceEncoderGraph(model).eval(), FullGraph(model).eval()
        rng = np.random.default_rng(seed)

        def inputs(kind: str, b: int) -> dict:
            eye = rng.standard_normal((b, STEPS, cfg.eye_dim)).astype(np.float32)
            fix = rng.random((b, STEPS, cfg.fix_dim)).astype(np.float32)
            if kind == "face_encoder":
                return {"face_crop": rng.standard_normal((b, 3, CROP, CROP)).astype(np.float32)}
            if kind == "fusion":
                return {"face_embeddings": rng.standard_normal((b, FRAMES, D)).astype(np.float32), "eye": eye, "fixation": fix}
            return {"face": rng.standard_normal((b, FRAMES, 3, CROP, CROP)).astype(np.float32), "eye": eye, "fixation": fix}

        cases = [("face_encoder", 1), ("face_encoder", FRAMES), ("face_encoder", batch * FRAMES // 4),
                 ("fusion", 1), ("fusion", batch), ("full", 1), ("full", max(1, batch // 4))]
        for kind, b in cases:
            feed = inputs(kind, b)
            tensors = [torch.from_numpy(v) for v in feed.values()]
            module = face_m if kind == "face_encoder" else full_m
            s = sess[kind]
            with torch.inference_mode():
                ref = module(*tensors)
                ref = ref if isinstance(ref, tuple) else (ref,)
                t_torch = _time(lambda: module(*tensors), repeats)
            got = s.run(None, feed)
            t_ort = _time(lambda: s.run(None, feed), repeats)
            o, t = summarize_ms(t_ort, "batch"), summarize_ms(t_torch, "batch")
            rows.append({"graph": kind, "batch": b, "ort": o, "torch": t,
                         "torch_over_ort": ratio(t["p50_ms"], o["p50_ms"]),
                         "max_abs_diff": float(max(np.abs(r.numpy() - g).max() for r, g in zip(ref, got)))})
    return {"rows": rows, "repeats": repeats, "torch": torch.__version__, "onnxruntime": ort.__version__,
            "threads": {"torch": torch.get_num_threads(),
                        "onnxruntime": threads if threads > 0 else "default (one per physical core)"},
            "note": "PyTorch eager also runs the modality discriminator (training-only outputs) that the exported graph drops"}


def merge_into_report(out_dir: Path, result: dict) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench_torch.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    js = out_dir / "bench.json"
    data = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else {"machine": result["machine"]}
    data["ort_vs_torch"] = result
    js.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    md = out_dir / "bench.md"
    md.write_text(render_markdown(data), encoding="utf-8")
    return js, md


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD, help="model card whose architecture to build")
    ap.add_argument("--out", type=Path, default=Path("bench-results"), help="report folder (default bench-results)")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16, help="batch for the batched rows (default 16)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads for both runtimes (default 1; 0 = defaults)")
    args = ap.parse_args(argv)
    if args.repeats <= 0 or args.batch <= 0 or args.threads < 0:
        ap.error("--repeats and --batch must be positive, --threads 0 or more")
    cfg, where = model_config(args.card)
    result = compare(cfg, repeats=args.repeats, batch=args.batch, threads=args.threads)
    result["model"] = where
    result["machine"] = describe_machine("CPUExecutionProvider")
    js, md = merge_into_report(args.out, result)
    for r in result["rows"]:
        print(f"{r['graph']:>13} b{r['batch']:<4} ORT {r['ort']['p50_ms']:8.3f} ms  PyTorch {r['torch']['p50_ms']:8.3f} ms"
              f"  ratio {r['torch_over_ort']}  max diff {r['max_abs_diff']:.2e}")
    print(f"wrote {js} and {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
