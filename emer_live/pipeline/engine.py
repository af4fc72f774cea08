"""Inference engine: the exported EMERT model run through ONNX Runtime.

Loads a model through its card, checks the ONNX graphs' real inputs and outputs against the card
and what the pipeline feeds, normalises inputs as the card says, and turns the raw outputs into
HeadOutputs. Split graphs (face encoder + fusion) are preferred: per-frame face embeddings can then
be cached, so a window update runs only the small fusion graph.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from emer_live import model_card as mc
from emer_live.features.eye_norm import normalise_eye
from emer_live.errors import ModelError
from emer_live.types import HeadOutput

DEFAULT_MODEL = "emert-demo.card.json"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def default_model_path() -> Path:
    """The model the app runs when none is named: $EMER_LIVE_MODEL, else models/ at the repo root
    (a source checkout), else the copy an installed package carries as emer_live/_models."""
    env = os.environ.get("EMER_LIVE_MODEL")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "models" / DEFAULT_MODEL
    installed = here.parents[1] / "_models" / DEFAULT_MODEL
    return installed if not checkout.exists() and installed.exists() else checkout


def _dims_ok(actual: list, expected: tuple) -> bool:
    """A graph dim matches when equal, or when either side is dynamic (a name or None)."""
    if len(actual) != len(expected):
        return False
    return all(not isinstance(a, int) or not isinstance(e, int) or a == e for a, e in zip(actual, expected))


def _fmt(shape) -> str:
    return "(" + ", ".join(str(d) if d is not None else "?" for d in shape) + ")"


class _Graph:
    """One ONNX Runtime session plus the facts the engine needs about it."""

    def __init__(self, path: Path, which: str, providers: list[str], inputs: dict, outputs: dict,
                 intra_op_threads: int = 0):
        import onnxruntime as ort

        if not path.exists():
            raise ModelError(f"Model graph '{which}' not found: {path}")
        if path.stat().st_size == 0:
            raise ModelError(f"Model graph '{which}' is an empty file: {path}")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # Between calls ORT's worker threads spin waiting for work by default: for graphs run a few
        # dozen times a second that burns most of a core doing nothing, so they sleep instead.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
        quiet = CUDA in providers
        if quiet:
            # Asking for CUDA on a machine without a usable GPU makes ORT print an error and a
            # warning per session before it falls back to CPU; the fallback is reported instead.
            ort.set_default_logger_severity(4)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as e:  # ORT raises several unrelated types for bad files
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"Model graph '{which}' {path} cannot be loaded (truncated or not an ONNX model?): {first}") from None
        finally:
            if quiet:
                ort.set_default_logger_severity(2)
        self.path, self.which = path, which
        self.providers = self.session.get_providers()
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._check(inputs, outputs)
        first_in = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = first_in if isinstance(first_in, int) else None

    def close(self) -> None:
        """Let go of the ONNX Runtime session: its thread pools and buffers go with it."""
        self.session = None

    def _check(self, inputs: dict, outputs: dict) -> None:
        problems = []
        got_in = {i.name: i.shape for i in self.session.get_inputs()}
        got_out = {o.name: o.shape for o in self.session.get_outputs()}
        for kind, want, got in (("input", inputs, got_in), ("output", outputs, got_out)):
            for name, shape in want.items():
                if name not in got:
                    problems.append(f"{kind} '{name}' {_fmt(shape)} is missing (graph has {sorted(got)})")
                elif not _dims_ok(got[name], shape):
                    problems.append(f"{kind} '{name}' is {_fmt(got[name])}, the card says {_fmt(shape)}")
        extra = sorted(set(got_in) - set(inputs))
        if extra:
            problems.append(f"unexpected inputs {extra} (the app feeds {sorted(inputs)})")
        if problems:
            raise ModelError(f"Model graph '{self.which}' {self.path} does not match its card:\n  - " + "\n  - ".join(problems))

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on a batch of any size, in chunks when the graph was exported with a fixed batch."""
        n = len(next(iter(feeds.values())))
        step = self.fixed_batch or n
        names = self.output_names
        if step == n:  # one call (every live call): its outputs as they come
            return dict(zip(names, self.session.run(names, feeds)))
        parts: dict[str, list] = {k: [] for k in names}
        for s in range(0, n, step):
            chunk = {k: v[s : s + step] for k, v in feeds.items()}
            m = len(next(iter(chunk.values())))
            if m < step:  # pad the last chunk of a fixed-batch graph, keep only the real rows
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], step - m, axis=0)]) for k, v in chunk.items()}
            for k, v in zip(names, self.session.run(names, chunk)):
                parts[k].append(v[:m])
        return {k: np.concatenate(v) for k, v in parts.items()}


class InferenceEngine:
    """The model of one card, ready to run.

    predict(face, eye, fixation) takes one window: face as (8, D) cached embeddings (split graphs)
    or (8, S, S, 3) RGB crops (uint8, or float gray levels on the same 0-255 scale), eye (32, 39) un-normalised eye-v1 steps, fixation (32, 2).
    """

    def __init__(self, card_path: str | Path | None = None, prefer_gpu: bool = True):
        import onnxruntime as ort

        path = Path(card_path) if card_path is not None else default_model_path()
        if card_path is None and not path.exists():
            raise ModelError(f"Default model not found: {path}. Name one with --model CARD, or set EMER_LIVE_MODEL.")
        self.card = mc.load_card(path)
        d = self.card.data
        S, D = self.card.crop_size, int(d["face"]["embedding_dim"])
        F, T = mc.SUPPORTED["face_frames"], mc.SUPPORTED["eye_steps"]
        E, X = mc.SUPPORTED["eye_dim"], mc.SUPPORTED["fixation_dim"]
        out = {"er_p7": ("B", 7), "er_p3": ("B", 3), "er_va": ("B", 2),
               "fer_p7": ("B", 7), "fer_p3": ("B", 3), "fer_va": ("B", 2), "fer_intensity": ("B", 1)}

        wanted = [CUDA, CPU] if prefer_gpu and CUDA in ort.get_available_providers() else [CPU]
        self.split = bool(self.card.graph_path("face_encoder") and self.card.graph_path("fusion"))
        if self.split:
            # One crop per camera frame: a single thread is as fast as several and costs a tenth of
            # the CPU time (measured on the demo model's mini-Xception: docs/performance.md).
            self._face = _Graph(self.card.graph_path("face_encoder"), "face_encoder", wanted,
                                {"face_crop": ("B", 3, S, S)}, {"face_embedding": ("B", D)}, intra_op_threads=1)
            self._fusion = _Graph(self.card.graph_path("fusion"), "fusion", wanted,
                                  {"face_embeddings": ("B", F, D), "eye": ("B", T, E), "fixation": ("B", T, X)}, out)
            graphs = (self._face, self._fusion)
        else:
            self._full = _Graph(self.card.graph_path("full"), "full", wanted,
                                {"face": ("B", F, 3, S, S), "eye": ("B", T, E), "fixation": ("B", T, X)}, out)
            graphs = (self._full,)
        self.provider = graphs[-1].providers[0]
        self.provider_note = ""
        if CUDA in wanted and self.provider != CUDA:
            self.provider_note = "CUDA was requested but could not be used (no usable GPU or CUDA libraries); running on CPU"
        self.embedding_dim = D
        self._face_mean = np.asarray(d["face"]["mean"], np.float32).reshape(1, 3, 1, 1)
        self._face_std = np.asarray(d["face"]["std"], np.float32).reshape(1, 3, 1, 1)
        # (x / 255 - mean) / std of every 8-bit level, per channel, by the same float32 operations
        # normalise_crops_arith does on a whole crop: a crop is normalised by looking its pixels up
        # (the same values at under half the work, once per camera frame).
        levels = np.arange(256, dtype=np.float32)[None, :] / 255.0
        self._face_levels = (levels - self._face_mean.reshape(3, 1)) / self._face_std.reshape(3, 1)
        self._eye_mean = np.asarray(d["eye"]["mean"], np.float32)
        self._eye_std = np.asarray(d["eye"]["std"], np.float32)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def window_s(self) -> float:
        return self.card.window_s

    # --- input preparation ------------------------------------------------------------
    def normalise_crops(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) RGB -> (N, 3, S, S) float32, (x/255 - mean) / std per channel. uint8 crops
        (looked up in the per-level table), or float ones in gray levels (fer_input.ExactLift:
        `fer`'s exact input, unrounded; computed)."""
        crops = self._check_crops(crops)
        if crops.dtype != np.uint8:
            return self.normalise_crops_arith(crops)
        out = np.empty((len(crops), 3) + crops.shape[1:3], np.float32)
        for c in range(3):
            out[:, c] = self._face_levels[c][crops[..., c]]
        return out

    def normalise_crops_arith(self, crops: np.ndarray) -> np.ndarray:
        """normalise_crops computed arithmetically on the whole crop (float crops; the reference
        the uint8 table is tested against)."""
        x = self._check_crops(crops).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        return (x - self._face_mean) / self._face_std

    def _check_crops(self, crops) -> np.ndarray:
        crops = np.asarray(crops)
        S = self.card.crop_size
        if crops.ndim != 4 or crops.shape[1:] != (S, S, 3):
            raise ValueError(f"face crops must be (N, {S}, {S}, 3) RGB, got {crops.shape}")
        return crops

    def normalise_eye(self, eye: np.ndarray) -> np.ndarray:
        """(..., 32, 39) raw eye window -> normalised with the card's statistics by the one shared
        implementation: absent values (NaN) and zero-std columns become 0, the training mean."""
        return normalise_eye(eye, self._eye_mean, self._eye_std)

    def neutral_eye(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Eye input when no gaze stream exists: the training mean (normalises to zeros) and a
        centred fixation, with valid fraction 0 so every prediction says the eyes were missing."""
        eye = np.broadcast_to(self._eye_mean, (mc.SUPPORTED["eye_steps"], mc.SUPPORTED["eye_dim"])).copy()
        return eye, np.full((mc.SUPPORTED["eye_steps"], mc.SUPPORTED["fixation_dim"]), 0.5, np.float32), 0.0

    # --- running ----------------------------------------------------------------------
    def embed_faces(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) RGB crops (uint8 or float gray levels) -> (N, D) float32 embeddings (split graphs only)."""
        if not self.split:
            raise ModelError(f"Model {self.card.path} has no separate face encoder graph; feed crops to predict()")
        if len(crops) == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        return self._face.run({"face_crop": self.normalise_crops(crops)})["face_embedding"].astype(np.float32)

    def predict(self, face: np.ndarray, eye: np.ndarray, fixation: np.ndarray) -> tuple[HeadOutput, HeadOutput, float]:
        """One window -> (er, fer, inference_ms)."""
        heads, ms = self.predict_batch(np.asarray(face)[None], np.asarray(eye)[None], np.asarray(fixation)[None])
        er, fer = heads[0]
        return er, fer, ms

    def predict_batch(self, face: np.ndarray, eye: np.ndarray,
                      fixation: np.ndarray) -> tuple[list[tuple[HeadOutput, HeadOutput]], float]:
        """B windows at once (offline replay: ORT is faster batched) -> ([(er, fer)] * B, total ms)."""
        face = np.asarray(face)
        t0 = time.perf_counter()
        B = len(face)
        feeds = {"eye": self.normalise_eye(eye), "fixation": np.nan_to_num(np.asarray(fixation, np.float32), nan=0.5)}
        if face.ndim == 5:  # crops (B, 8, S, S, 3), uint8 or float gray levels; else embeddings (B, 8, D)
            flat = face.reshape(-1, *face.shape[2:])
            if self.split:
                feeds["face_embeddings"] = self.embed_faces(flat).reshape(B, face.shape[1], -1)
            else:
                feeds["face"] = self.normalise_crops(flat).reshape(B, face.shape[1], 3, *face.shape[2:4])
        elif self.split:
            feeds["face_embeddings"] = face.astype(np.float32)
        else:
            raise ModelError(f"Model {self.card.path} is a single graph: predict() needs face crops, not embeddings")
        raw = (self._fusion if self.split else self._full).run(feeds)
        ms = (time.perf_counter() - t0) * 1000.0
        heads = []
        for b in range(B):
            er = HeadOutput(probs7=raw["er_p7"][b].astype(np.float64), probs3=raw["er_p3"][b].astype(np.float64),
                            valence=float(raw["er_va"][b, 0]), arousal=float(raw["er_va"][b, 1]))
            fer = HeadOutput(probs7=raw["fer_p7"][b].astype(np.float64), probs3=raw["fer_p3"][b].astype(np.float64),
                             valence=float(raw["fer_va"][b, 0]), arousal=float(raw["fer_va"][b, 1]),
                             intensity=float(raw["fer_intensity"][b, 0]))
            heads.append((er, fer))
        return heads, ms

    def close(self) -> None:
        """Release the graphs' sessions (the live pipeline's owner calls this when it stops)."""
        for g in (getattr(self, "_face", None), getattr(self, "_fusion", None), getattr(self, "_full", None)):
            if g is not None:
                g.close()

    def info(self) -> dict:
        prov = self.card.data.get("provenance", {})
        return {"model_name": self.card.name, "model_card": str(self.card.path), "model_provenance": prov.get("summary", ""),
                "model_provenance_kind": prov.get("kind", ""), "provider": self.provider, "provider_note": self.provider_note,
                "split": self.split, "window_s": self.card.window_s, "eye_encoding": self.card.eye_encoding}
