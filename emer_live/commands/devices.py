"""`emer-live devices`: the cameras that open and the Tobii eye trackers found."""

from __future__ import annotations


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range

    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--max-camera", type=int_range(0, 1023), default=4, help="highest camera index to try (default 4)")


def main(args) -> int:
    import json

    from emer_live.errors import SourceError
    from emer_live.sources.camera import probe_cameras
    from emer_live.sources.tobii import find_trackers

    cameras = probe_cameras(range(args.max_camera + 1))
    try:
        trackers, tobii_note = find_trackers(), None
    except SourceError as e:
        trackers, tobii_note = [], str(e)
    if args.json:
        print(json.dumps({"cameras": cameras, "trackers": trackers, "tobii_unavailable": tobii_note}))
        return 0
    print(f"Cameras (indexes 0-{args.max_camera}):")
    for c in cameras:
        print(f"  camera:{c['index']}  {c['width']}x{c['height']} @ {c['fps']:g} fps")
    if not cameras:
        print("  none opens")
    print("Tobii eye trackers:")
    for t in trackers:
        freqs = ", ".join(f"{f:g}" for f in t["frequencies"]) or "?"
        print(f"  tobii:{t['serial']}  {t['model']} '{t['name']}' at {t['address']} ({freqs} Hz)")
    if tobii_note:
        print(f"  unavailable: {tobii_note}")
    elif not trackers:
        print("  none found")
    return 0
