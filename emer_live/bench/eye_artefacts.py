"""How well the eye artefact check (emer_live.features.eye_artefacts) tells eye streams no person
produces from real people's eyes, on recordings it is given.

The battery: every window of every real recording given, altered in one of the ways below (each
built from that window's own real samples, so what is not altered stays a person's); and the
same windows unaltered. Reported: per kind, the share of altered windows flagged; for the people,
the share of unaltered windows flagged, per recording group (the folder a file is in, e.g. one
per participant) and per file layout. The product needs no recordings to run: the folder is an
argument (`emer-live bench eye-artefacts FOLDER`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emer_live.features.eye_artefacts import artefact_reasons
from emer_live.types import GAZE_COL

_DISP = [GAZE_COL[f"{e}_gaze_point_on_display_area_{a}"] for e in ("left", "right") for a in "xy"]
_X = [GAZE_COL[f"{e}_gaze_point_on_display_area_x"] for e in ("left", "right")]
_RX = GAZE_COL["right_gaze_point_on_display_area_x"]
_PUP = [GAZE_COL[f"{e}_pupil_diameter"] for e in ("left", "right")]
_GVAL = [GAZE_COL[f"{e}_gaze_point_validity"] for e in ("left", "right")]
MIN_VALID = 0.5  # windows with fewer valid samples are not scored (the pipeline skips most of them)


def _first_valid(raw):
    ok = np.flatnonzero((raw[:, _GVAL[0]] == 1) & (raw[:, _GVAL[1]] == 1))
    return ok[0] if len(ok) else 0


def _frozen(t, raw, hz):
    return t, np.repeat(raw[_first_valid(raw)][None], len(raw), axis=0)


def _stutter(t, raw, hz):  # each sample sent 4 times (a stream stuck on stale data)
    return t, raw[(np.arange(len(raw)) // 4) * 4]


def _loop(t, raw, hz):  # the first 0.5 s played again and again
    n = max(4, int(0.5 * hz))
    return t, raw[np.arange(len(raw)) % n]


def _constant_gaze(t, raw, hz):
    out = raw.copy()
    out[:, _DISP] = raw[_first_valid(raw), _DISP]
    return t, out


def _teleport(t, raw, hz):  # between two points every sample
    out = raw.copy()
    out[:, _DISP] = np.where((np.arange(len(raw)) % 2 == 0)[:, None], 0.2, 0.8)
    return t, out


def _jitter(t, raw, hz):  # noise no eye makes: 5 % of the display per sample
    rng = np.random.default_rng(len(raw))
    out = raw.copy()
    out[:, _DISP] += rng.normal(0.0, 0.05, (len(raw), 4))
    return t, out


def _pupil_big(t, raw, hz):
    out = raw.copy()
    out[:, _PUP] += 6.0
    return t, out


def _pupil_small(t, raw, hz):
    out = raw.copy()
    out[:, _PUP] *= 0.3
    return t, out


def _pupil_jumps(t, raw, hz):  # +3 mm every other 100 ms
    out = raw.copy()
    up = ((t - t[0]) // 100_000_000) % 2 == 1
    out[np.ix_(up, _PUP)] += 3.0
    return t, out


def _eyes_apart(t, raw, hz):  # the two eyes 0.8 of the display apart
    out = raw.copy()
    out[:, _RX] += 0.8
    return t, out


def _off_display(t, raw, hz):
    out = raw.copy()
    out[:, _X] += 1.0
    return t, out


def _rate(t, raw, hz):  # a third of the samples: 100 Hz from a 300 Hz tracker
    return t[::3], raw[::3]


def _missing_pupil(t, raw, hz):  # the pupil column absent, its validity still set
    out = raw.copy()
    out[:, _PUP] = np.nan
    return t, out


KINDS = {
    "frozen sample (one real sample repeated)": _frozen,
    "stutter (each sample sent 4 times)": _stutter,
    "loop (0.5 s played again and again)": _loop,
    "constant gaze point": _constant_gaze,
    "teleport (two points, every sample)": _teleport,
    "jitter (5% of the display per sample)": _jitter,
    "pupil +6 mm": _pupil_big,
    "pupil x0.3": _pupil_small,
    "pupil jumps 3 mm every 100 ms": _pupil_jumps,
    "eyes 0.8 of the display apart": _eyes_apart,
    "gaze one display width off": _off_display,
    "a third of the nominal rate": _rate,
    "pupil column missing": _missing_pupil,
}


@dataclass
class RealWindow:
    group: str  # the folder of the file (one per participant in the TX300 data)
    layout: str
    t_ns: np.ndarray
    raw: np.ndarray
    nominal_hz: float


def real_windows(folder: Path, window_s: float = 2.0, step_s: float = 0.25) -> list[RealWindow]:
    """Every window of window_s (every step_s) of every recording under folder, read with the
    product's reader, that has at least MIN_VALID valid samples."""
    from emer_live.sources.tobii_tsv import gaze_files, read_gaze_file

    out = []
    for path in gaze_files(Path(folder)):
        gf = read_gaze_file(path)
        for rec in gf.recordings:
            t = rec.timeline_us().astype(np.int64) * 1000
            valid = (rec.raw[:, _GVAL[0]] == 1) | (rec.raw[:, _GVAL[1]] == 1)
            w, s = int(window_s * 1e9), int(step_s * 1e9)
            for end in range(int(t[0]) + w, int(t[-1]) + 1, s):
                lo, hi = np.searchsorted(t, end - w, "right"), np.searchsorted(t, end, "right")
                if hi - lo > 20 and valid[lo:hi].mean() >= MIN_VALID:
                    out.append(RealWindow(path.parent.name, gf.layout, t[lo:hi], rec.raw[lo:hi], rec.nominal_hz))
    return out


def measure(windows: list[RealWindow]) -> dict:
    """Flag rates: per artefact kind and group, and for the unaltered people per group and layout."""
    res: dict = {"kinds": {}, "people": {}, "people_by_layout": {}, "people_reasons": {}}
    for kind, make in KINDS.items():
        per: dict = {}
        for w in windows:
            t, raw = make(w.t_ns, w.raw, w.nominal_hz)
            per.setdefault(w.group, []).append(bool(artefact_reasons(t, raw, w.nominal_hz)))
        res["kinds"][kind] = {g: (float(np.mean(v)), len(v)) for g, v in per.items()}
    per, lay = {}, {}
    for w in windows:
        reasons = artefact_reasons(w.t_ns, w.raw, w.nominal_hz)
        per.setdefault(w.group, []).append(bool(reasons))
        lay.setdefault(w.layout, []).append(bool(reasons))
        for r in reasons:
            res["people_reasons"][r] = res["people_reasons"].get(r, 0) + 1
    res["people"] = {g: (float(np.mean(v)), len(v)) for g, v in per.items()}
    res["people_by_layout"] = {g: (float(np.mean(v)), len(v)) for g, v in lay.items()}
    return res


def report(res: dict) -> str:
    groups = sorted({g for v in res["kinds"].values() for g in v})
    lines = ["artefact kind: share of windows flagged, per group (windows)"]
    for kind, per in res["kinds"].items():
        lines.append(f"  {kind:45s} " + "  ".join(f"{g}: {per[g][0]:6.1%} ({per[g][1]})" for g in groups if g in per))
    for g in groups:
        rates = [per[g][0] for per in res["kinds"].values() if g in per]
        n = sum(per[g][1] for per in res["kinds"].values() if g in per)
        flagged = sum(per[g][0] * per[g][1] for per in res["kinds"].values() if g in per)
        lines.append(f"  all kinds, {g}: {flagged / n:.1%} flagged; weakest kind {min(rates):.1%}")
    lines.append("people (unaltered windows): share flagged")
    for g, (r, n) in sorted(res["people"].items()):
        lines.append(f"  {g}: {r:.1%} of {n}")
    for g, (r, n) in sorted(res["people_by_layout"].items()):
        lines.append(f"  layout {g}: {r:.1%} of {n}")
    if res["people_reasons"]:
        lines.append("  reasons on people: " + ", ".join(f"{k} {v}" for k, v in sorted(res["people_reasons"].items())))
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("folder", type=Path, help="a folder of real gaze recordings (any layout the gaze reader reads)")
    parser.add_argument("--window-s", type=float, default=2.0, help="window length in seconds (default 2)")


def main(args) -> int:
    folder, window_s = args.folder, args.window_s
    if not (window_s > 0 and window_s < 3600):
        print(f"emer-live bench eye-artefacts: --window-s must be a positive number of seconds, got {window_s}")
        return 2
    windows = real_windows(folder, window_s)
    if not windows:
        print(f"no usable windows of {window_s:g} s in {folder}")
        return 2
    print(f"{len(windows)} real windows of {window_s:g} s from {folder}")
    print(report(measure(windows)))
    return 0
