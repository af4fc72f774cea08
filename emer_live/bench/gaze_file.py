"""Peak memory and time of reading a long gaze export: `python -m emer_live.bench.gaze_file`.

Writes a Tobii Pro Lab-layout export (microsecond timestamps, gaze in pixels, Sensor and event
rows, the tool's eye-movement label) of the given length and rate from real SDK sample logs
repeated end to end, then reads it with read_gaze_file in a fresh process and reports that
process's peak resident memory (VmHWM, so Linux only) beside the file's size, and the time and
CPU time the read took.
The export is written to a temporary folder and removed afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DISPLAY_PX = (1920, 1080)
HEADER = ["Recording timestamp [μs]", "Computer timestamp [μs]", "Sensor", "Participant name", "Recording name",
          "Recording resolution height [px]", "Recording resolution width [px]", "Recording software version",
          "Eyetracker timestamp [μs]", "Event", "Event value", "Gaze point X [DACS px]", "Gaze point Y [DACS px]",
          "Gaze point left X [DACS px]", "Gaze point left Y [DACS px]", "Gaze point right X [DACS px]",
          "Gaze point right Y [DACS px]", "Pupil diameter left [mm]", "Pupil diameter right [mm]", "Validity left",
          "Validity right", "Eye position left Z [DACS mm]", "Eye position right Z [DACS mm]", "Eye movement type",
          "Gaze event duration [ms]", "Eye movement type index"]
CHUNK = 200_000


def _sdk_samples(sources: list[Path]) -> dict:
    """The columns the export needs from SDK sample logs (tobii-sdk layout), concatenated."""
    cols = ("LGazePos2dx", "LGazePos2dy", "RGazePos2dx", "RGazePos2dy", "LPupilDm", "RPupilDm", "LEyePos3dz",
            "REyePos3dz", "LValidity", "RValidity")
    parts = {c: [] for c in cols}
    for p in sources:
        lines = p.read_text().splitlines()
        head = lines[0].split("\t")
        data = np.array([[float(x) for x in ln.split("\t")] for ln in lines[1:] if ln.strip()])
        for c in cols:
            parts[c].append(data[:, head.index(c)])
    return {c: np.concatenate(v) for c, v in parts.items()}


def write_pro_lab_export(path: Path, sources: list[Path], seconds: float, rate_hz: float) -> int:
    """The export, written in chunks; returns the number of gaze samples. Every 600th sample is
    followed by an event row with an empty Sensor, as Pro Lab writes key presses."""
    import pandas as pd

    sdk = _sdk_samples(sources)
    n_src = len(sdk["LValidity"])
    n = int(seconds * rate_hz)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\t".join(HEADER) + "\n")
        for a in range(0, n, CHUNK):
            i = np.arange(a, min(n, a + CHUNK))
            j = i % n_src
            t = np.round(i * 1e6 / rate_hz).astype(np.int64)
            cells = {h: [""] * len(i) for h in HEADER}
            df = pd.DataFrame(cells)
            df[HEADER[0]] = t
            df[HEADER[1]] = t + 1_700_000_000_000_000
            df[HEADER[8]] = t + 5_000_000_000
            df["Sensor"], df["Participant name"], df["Recording name"] = "Eye Tracker", "P01", "Recording 1"
            df[HEADER[5]], df[HEADER[6]], df[HEADER[7]] = DISPLAY_PX[1], DISPLAY_PX[0], "1.241"
            both = np.zeros(len(i), dtype=bool)
            for eye, p in (("left", "L"), ("right", "R")):
                ok = sdk[f"{p}Validity"][j] <= 1
                both |= ok
                df[f"Validity {eye}"] = np.where(ok, "Valid", "Invalid")
                for axis, k in (("X", 0), ("Y", 1)):
                    v = np.round(sdk[f"{p}GazePos2d{axis.lower()}"][j] * DISPLAY_PX[k], 1)
                    df[f"Gaze point {eye} {axis} [DACS px]"] = np.where(ok, v, np.nan)
                df[f"Pupil diameter {eye} [mm]"] = np.where(ok, np.round(sdk[f"{p}PupilDm"][j], 3), np.nan)
                df[f"Eye position {eye} Z [DACS mm]"] = np.where(ok, np.round(sdk[f"{p}EyePos3dz"][j], 1), np.nan)
            df["Gaze point X [DACS px]"] = df[["Gaze point left X [DACS px]", "Gaze point right X [DACS px]"]].mean(1).round(1)
            df["Gaze point Y [DACS px]"] = df[["Gaze point left Y [DACS px]", "Gaze point right Y [DACS px]"]].mean(1).round(1)
            df["Eye movement type"] = np.where(both, "Unclassified", "EyesNotFound")
            df["Eye movement type index"] = 1 + i // 300
            ev = np.flatnonzero(i % 600 == 599)
            if len(ev):
                extra = pd.DataFrame({h: [""] * len(ev) for h in HEADER}, index=ev + 0.5)
                extra[HEADER[0]] = t[ev]
                extra["Participant name"], extra["Recording name"] = "P01", "Recording 1"
                extra["Event"], extra["Event value"] = "KeyboardEvent", "space"
                df = pd.concat([df.set_axis(np.arange(len(df), dtype=float)), extra.set_axis(ev + 0.5)]).sort_index()
            df.to_csv(f, sep="\t", header=False, index=False, na_rep="", lineterminator="\n")
    return n


_READ = """
import json, sys, time
t0 = time.perf_counter()
from emer_live.sources.tobii_tsv import read_gaze_file
t1 = time.perf_counter()
gf = read_gaze_file(sys.argv[1])
t2 = time.perf_counter()
r = gf.recordings[0]
# VmHWM: this process's own peak (getrusage's would count the parent's pages at the fork)
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
print(json.dumps({"peak_kb": hwm, "import_s": t1 - t0, "read_s": t2 - t1, "samples": int(len(r.t_us)), "rate_hz": r.nominal_hz,
                  "skipped_rows": gf.skipped_rows, "rejected": len(r.invalid_rows)}))
"""


def measure_read(path: Path, python: str = sys.executable, env=None) -> dict:
    """Read the file in a fresh process: its peak resident memory (VmHWM, Linux) and CPU time."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([python, "-c", _READ, str(path)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"rc {out.returncode}")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    peak_kb = d.pop("peak_kb")
    size = path.stat().st_size
    d.update(file_mb=round(size / 2**20, 1), peak_rss_mb=round(peak_kb / 1024, 1),
             cpu_s=round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 1),  # the whole process, imports too
             peak_over_size=round(peak_kb * 1024 / size, 2))
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emer_live.bench.gaze_file", description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="+", type=Path, help="Tobii SDK sample logs (.tsv) whose samples are repeated")
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the export (default 60)")
    ap.add_argument("--rate", type=float, default=600.0, help="sampling rate in Hz (default 600)")
    ap.add_argument("--keep", type=Path, help="write the export here and keep it")
    args = ap.parse_args(argv)
    if not (args.minutes > 0 and args.rate > 0):
        ap.error("--minutes and --rate must be positive")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "pro_lab_export.tsv"
        t0 = time.perf_counter()
        n = write_pro_lab_export(path, args.sources, args.minutes * 60, args.rate)
        print(f"wrote {path.name}: {n} samples, {path.stat().st_size / 2**20:.1f} MB in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        res = measure_read(path)
    res.update(minutes=args.minutes, rate_hz_written=args.rate)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
