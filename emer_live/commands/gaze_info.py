"""`emer-live gaze-info PATH`: what a recorded gaze file holds, as the reader sees it.

Layout and tool, encoding and delimiter, and per recording: participant, recording name,
samples, duration, sample rate, valid share, segments and timestamp problems; with the
--gaze spec that plays each one. For several recordings, how they play together: which trial files
are joined into one recording and where breaks remain, with why (sources/trial_joins.py).
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("path", metavar="PATH", help="a Tobii Pro Lab / Studio export or SDK log, or a folder of them")
    parser.add_argument("--gaze-columns", metavar="JSON", default=None, help="column mapping for an undetected layout")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def main(args) -> int:
    import json
    from pathlib import Path

    from emer_live.errors import SourceError
    from emer_live.sources.tobii_tsv import gaze_files, read_gaze_file, recording_seams
    from emer_live.sources.trial_joins import seams_summary

    path = Path(args.path).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: gaze file not found")
    paths = gaze_files(path)
    files, skipped = [], []
    for f in paths:
        try:
            files.append(read_gaze_file(f, args.gaze_columns))
        except SourceError as e:
            if len(paths) == 1:
                raise
            skipped.append(str(e))  # a folder may hold notes, licences, other tables
    out = []
    for gf in files:
        recs = []
        for r in gf.recordings:
            sel = "&".join(f"{k}={v}" for k, v in (("participant", r.participant), ("recording", r.recording)) if v)
            spec = f"tsv:{gf.path}" + (f"#{sel}" if sel and len(gf.recordings) > 1 else "")
            problems = [{"kind": k, "line": line, "count": c, "message": m} for k, line, c, m in r.problems]
            recs.append({**r.summary(), "gaze_spec": spec, "problems": problems})
        out.append({"path": str(gf.path), "layout": gf.layout, "tool": gf.tool, "encoding": gf.encoding,
                    "delimiter": gf.delimiter, "non_gaze_rows_skipped": gf.skipped_rows, "recordings": recs,
                    "unusable_recordings": gf.unusable})
    # how `--gaze tsv:PATH` plays them all: trial files joined into one recording, or breaks and why
    trials = seams_summary(recording_seams([r for gf in files for r in gf.recordings]))
    if args.json:
        print(json.dumps({"files": out, "skipped": skipped, "trials": trials}))
        return 0
    for f in out:
        print(f"{f['path']}: {f['tool']} ({f['layout']}), {f['encoding']}, {f['delimiter']}-separated, "
              f"{len(f['recordings'])} recording(s), {f['non_gaze_rows_skipped']} non-gaze row(s) skipped")
        for r in f["recordings"]:
            who = ", ".join(x for x in (f"participant {r['participant']}" if r["participant"] else "",
                                        f"recording {r['recording']}" if r["recording"] else "") if x) or "(unnamed)"
            print(f"  {who}: {r['samples']} samples, {r['duration_s']:.2f} s at {r['rate_hz']:g} Hz, "
                  f"{100 * r['valid_fraction']:.0f}% valid, {r['segments']} segment(s)")
            if r["tool_labels"]:
                print("    the tool's eye movement labels: " + ", ".join(f"{k} {v}" for k, v in r["tool_labels"].items()))
            for p in r["problems"]:
                print(f"    line {p['line']}: {p['message']}")
            print(f"    --gaze {r['gaze_spec']}")
        for u in f["unusable_recordings"]:
            print(f"  left out: {u}")
    if trials["seams"]:
        print(f"played as --gaze tsv:{path}: {trials['joined']} seam(s) joined into one recording, "
              f"{trials['breaks']} break(s) kept (no window spans one)")
        for x in trials["seams"]:
            print(f"  {x['previous']} -> {x['next']}: {x['why']}")
    for problem in skipped:
        print(f"skipped {problem}")
    return 0 if out else 2
