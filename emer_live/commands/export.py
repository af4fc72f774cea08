"""`emer-live export SESSION --format csv|parquet --out DIR [--video] [--blur-faces]`."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION", help="a recorded session folder")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="table format (default csv)")
    parser.add_argument("--out", metavar="DIR", required=True, help="folder for the exported tables")
    parser.add_argument("--video", action="store_true", help="also write video.avi")
    parser.add_argument("--blur-faces", action="store_true", help="write video.avi with every face blurred (for sharing)")


def main(args) -> int:
    from emer_live.recording.export import export_session

    from emer_live.commands.replay import warn

    result = export_session(args.session, args.out, fmt=args.format, video=args.video, blur_faces=args.blur_faces)
    warn(result.pop("warnings"))
    print(json.dumps(result, indent=2))
    return 0
