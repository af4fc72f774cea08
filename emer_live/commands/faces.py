"""`emer-live faces cache FACES_DIR --out DIR`: face crops of training videos through the app's face
pipeline, once, for `emer-train` (see emer_live/features/face_cache.py and docs/training.md)."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range

    parser.add_argument("action", choices=("cache",))
    parser.add_argument("faces_dir", metavar="FACES_DIR", help="folder of sample videos (ID.mp4 ...) or image folders (ID/)")
    parser.add_argument("--out", required=True, metavar="DIR", help="crop cache folder (ID.npz + manifest.json)")
    parser.add_argument("--frames", type=int_range(1, 100_000), default=32, help="frames looked at per sample, evenly spaced (default 32)")
    parser.add_argument("--workers", type=int_range(1, 256), default=1, help="processes running the face pipeline (default 1)")
    parser.add_argument("--encoder", default="resnet18", choices=("resnet18", "mini_xception"),
                        help="the face encoder the model will be trained with: its crop recipe is used (default resnet18)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    from emer_live.features.face_cache import build_cache

    summary = build_cache(args.faces_dir, args.out, frames=args.frames, workers=max(1, args.workers),
                          progress=not args.no_progress, face_encoder=args.encoder)
    print(json.dumps(summary))
    return 0
