"""`emer-live labels import SESSION FILE`: bring segment labels from a lab's own table into a session.
`emer-live labels markers SESSION FILE`: add the markers experiment software sent (a table of times
and labels) to a recorded session, so log-clock labels can be synced to one of them.

The table (CSV or TSV) has one row per segment: start and end (session seconds, wall-clock times,
marker names, or the experiment software's own clock with a sync marker), self-assessed valence
and arousal on a stated scale, a discrete emotion, optionally a FER label and its annotator. It is
checked against the session; labels.csv is written and the import recorded in labels_import.json.
See docs/session-format.md ("Importing labels").
"""

from __future__ import annotations

import json
import math


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import positive_float

    parser.add_argument("action", choices=("import", "check", "markers"),
                        help="import: write labels.csv; check: validate and report, write nothing; markers: add "
                             "the markers of FILE (columns time, label: the triggers experiment software sent, in "
                             "session seconds or wall-clock times) to a headless recording's markers.csv")
    parser.add_argument("session", metavar="SESSION", help="a recorded session folder")
    parser.add_argument("file", metavar="FILE", help="CSV or TSV of segments")
    parser.add_argument("--time", default="auto", choices=("auto", "session", "wall", "marker", "log"),
                        help="what the start/end cells are (default: guessed from them)")
    parser.add_argument("--scale", default="1,9", metavar="LO,HI",
                        help="the valence/arousal rating scale, mapped onto [-1, 1] (default 1,9: SAM)")
    parser.add_argument("--column", action="append", default=[], metavar="ROLE=NAME",
                        help="use column NAME for ROLE (start, end, duration, valence, arousal, emotion, fer, "
                             "annotator, stimulus, participant); repeatable")
    parser.add_argument("--psychopy", metavar="ROUTINE",
                        help="a PsychoPy trial log: segments are ROUTINE.started to ROUTINE.stopped (log clock)")
    parser.add_argument("--sync", metavar="MARKER=SECONDS",
                        help="for log-clock times: the session marker MARKER was sent at SECONDS on the log's clock")
    parser.add_argument("--duration", type=positive_float, metavar="S", help="segment length when the table has no end")
    parser.add_argument("--key-map", metavar="KEY=EMOTION,...",
                        help="response keys to emotions, e.g. 1=happiness,2=sadness (PsychoPy's key_resp.keys; "
                             "the emotion column defaults to key_resp.keys when given)")
    parser.add_argument("--wall-start", metavar="TIME|session",
                        help="for wall-clock times on a session recorded from files: the wall-clock time of its "
                             "session time 0 (ISO 8601 with a zone, or Unix seconds), or 'session' for the "
                             "session's own wall-clock start")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--replace", action="store_true", help="replace the session's existing labels")
    mode.add_argument("--append", action="store_true", help="add to the session's existing labels")


def _options(args):
    from emer_live.errors import RecordingError
    from emer_live.recording.labels_import import ImportOptions

    try:
        lo, hi = (float(x) for x in args.scale.split(","))
    except ValueError:
        raise RecordingError(f"--scale {args.scale!r} is not LO,HI (e.g. 1,9 or -1,1)") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise RecordingError(f"--scale {args.scale!r}: LO and HI must be finite numbers with LO < HI")
    columns = {}
    for item in args.column:
        role, sep, name = item.partition("=")
        if not sep:
            raise RecordingError(f"--column {item!r} is not ROLE=NAME")
        columns[role.strip()] = name.strip()
    sync = None
    if args.sync:
        label, sep, secs = args.sync.rpartition("=")
        try:
            sync = (label, float(secs))
        except ValueError:
            sync = None
        if sync is not None and not math.isfinite(sync[1]):
            sync = None
        if not sep or not label or sync is None:
            raise RecordingError(f"--sync {args.sync!r} is not MARKER=SECONDS")
    key_map = {}
    for item in (args.key_map or "").split(","):
        if not item.strip():
            continue
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise RecordingError(f"--key-map item {item!r} is not KEY=EMOTION (e.g. 1=happiness,2=sadness)")
        key_map[key.strip()] = name.strip()
    return ImportOptions(time=args.time, scale=(lo, hi), columns=columns, sync=sync, duration_s=args.duration,
                         psychopy_routine=args.psychopy, key_map=key_map, wall_start=args.wall_start)


def main(args) -> int:
    import sys

    from emer_live.recording.labels_import import import_labels, read_labels

    if args.action == "markers":
        from emer_live.recording.labels_import import place_markers

        time = "auto" if args.time == "auto" else args.time
        added = place_markers(args.session, args.file, time=time, wall_start=args.wall_start)
        print(json.dumps({"action": "markers", "added": len(added), "labels": [m["label"] for m in added]}))
        return 0
    opts = _options(args)
    if args.action == "check":
        res = read_labels(args.session, args.file, opts)
    else:
        res = import_labels(args.session, args.file, opts, mode="replace" if args.replace else
                            "append" if args.append else "refuse")
    for text in res.overlaps:
        print(f"overlap: {text}", file=sys.stderr)
    for text in res.skipped:
        print(f"skipped: {text}", file=sys.stderr)
    p = res.provenance
    print(json.dumps({"action": args.action, "segments": p["segments"], "rows": p["rows"], "time": p["time"],
                      "skipped": len(res.skipped), "overlaps": len(res.overlaps),
                      "er7": sum(s.er7 is not None for s in res.segments),
                      "fer7": sum(s.fer7 is not None for s in res.segments)}))
    return 0
