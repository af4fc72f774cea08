"""Datasets for EMERT: the synthetic generator, the EMER release, sessions recorded by emer_live."""

from __future__ import annotations

from pathlib import Path

from emer_live.errors import EmerError

DATASET_SPECS = ("synthetic[:n=N,gap=F,face=embedding|image,participants=P,seed=S] | "
                 "emer:PATH[,layout=FILE.json][,test_sets=DIR][,eye=prolab|arrays][,crops=DIR|faces=frames] | "
                 "sessions:PATH[,PATH...]")


def _options(text: str) -> dict:
    opts = {}
    for part in filter(None, text.split(",")):
        if "=" not in part:
            raise EmerError(f"dataset option {part!r} is not KEY=VALUE (expected {DATASET_SPECS})")
        k, v = part.split("=", 1)
        opts[k.strip()] = v.strip()
    return opts


def open_dataset(spec: str, *, window_s: float | None = None, encoding: str = "segment", cache_dir: str | Path | None = None,
                 synthetic_defaults: dict | None = None):
    """Build a dataset from a command-line spec (see DATASET_SPECS). window_s None: 8 s for
    synthetic data, the whole sample (EMER) or labelled segment (sessions) otherwise."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        from training.data.synthetic import SyntheticEMER

        o = {**(synthetic_defaults or {}), **_options(rest)}
        allowed = {"n", "gap", "face", "participants", "seed", "rate"}
        if set(o) - allowed:
            raise EmerError(f"unknown synthetic option(s) {sorted(set(o) - allowed)}; allowed: {sorted(allowed)}")
        try:
            return SyntheticEMER(int(o.get("n", 1303)), gap_fraction=float(o.get("gap", 0.3)),
                                 face_mode=o.get("face", "embedding"), window_s=window_s or 8.0, encoding=encoding,
                                 gaze_rate_hz=float(o.get("rate", 60)), n_participants=int(o.get("participants", 121)),
                                 seed=int(o.get("seed", 0)), cache_dir=cache_dir)
        except ValueError as e:
            raise EmerError(f"bad synthetic dataset spec {spec!r}: {e}") from e
    if kind == "emer":
        from training.data.emer import EMERDataset

        from training.data.emer import EMERLayout

        root, _, more = rest.partition(",")
        if not root:
            raise EmerError("emer: needs the dataset folder, e.g. emer:/data/EMER")
        o = _options(more)
        allowed = {"layout", "test_sets", "eye", "crops", "faces"}
        if set(o) - allowed:
            raise EmerError(f"unknown emer option(s) {sorted(set(o) - allowed)}; allowed: {', '.join(sorted(allowed))}")
        layout = EMERLayout.from_json(o["layout"]) if "layout" in o else EMERLayout()
        if "test_sets" in o:
            layout.test_sets = o["test_sets"]
        if "eye" in o:
            if o["eye"] not in ("prolab", "arrays"):
                raise EmerError(f"emer option eye={o['eye']!r}: use prolab or arrays")
            layout.eye_format = o["eye"]
        if "crops" in o:
            layout.face_crops = o["crops"]
        if "faces" in o:
            if o["faces"] not in ("crops", "frames"):
                raise EmerError(f"emer option faces={o['faces']!r}: use crops (the app's face pipeline) or frames")
            if o["faces"] == "frames":
                layout.face_crops = None
        return EMERDataset(root, layout=layout, window_s=window_s, encoding=encoding)
    if kind == "sessions":
        from training.data.sessions import SessionsDataset

        paths = [p for p in rest.split(",") if p]
        if not paths:
            raise EmerError("sessions: needs one or more session folders, e.g. sessions:rec/s01,rec/s02")
        return SessionsDataset(paths, window_s=window_s, encoding=encoding)
    raise EmerError(f"unknown dataset {spec!r}; expected {DATASET_SPECS}")
