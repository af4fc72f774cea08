"""Real faces through the app's face pipeline, once, for training (docs/training.md):

- `emer-live faces cache FACES_DIR --out DIR`: face crops of training videos for `emer-train`
  (emer_live/features/face_cache.py);
- `emer-live faces logits --video A.mp4 --model CARD --out FILE`: a card's face network's per-frame
  expression logits on real faces, the face step of `emer-train build-demo` (faces_logits.py)."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    from emer_live.commands import faces_logits

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    _cache_arguments(sub.add_parser("cache", help="face crops of training videos, images or sessions, for emer-train",
                                    description="face crops of training videos, images or sessions, for emer-train"))
    logits_help = "a model card's face network's per-frame expression logits on real faces (build-demo's face step)"
    faces_logits.add_arguments(sub.add_parser("logits", help=logits_help, description=logits_help))


def _cache_arguments(parser) -> None:
    from emer_live.commands.arg_types import int_range

    parser.add_argument("faces_dir", metavar="FACES_DIR",
                        help="folder of sample videos (ID.mp4 ...), image folders (ID/) or recorded sessions")
    parser.add_argument("--out", required=True, metavar="DIR", help="crop cache folder (ID.npz + manifest.json)")
    parser.add_argument("--frames", type=int_range(1, 100_000), default=32, help="frames looked at per sample, evenly spaced (default 32)")
    parser.add_argument("--workers", type=int_range(1, 256), default=1, help="processes running the face pipeline (default 1)")
    parser.add_argument("--encoder", default=None, choices=("resnet18", "mini_xception"),
                        help="the face encoder the model will be trained with: its crop recipe is used (default "
                             "resnet18; for a folder of recorded sessions, the recipe their own crops were made with)")
    parser.add_argument("--card", metavar="CARD",
                        help="use this model card's crop recipe (face.crop) instead of --encoder's, e.g. the card "
                             "a session was recorded with, so the cache holds the crops its face_crops/ hold")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    if args.action == "logits":
        from emer_live.commands import faces_logits

        return faces_logits.main(args)
    return _cache(args)


def _cache(args) -> int:
    """0 when every sample has crops; 1 when some failed (listed on stderr; the others are cached)."""
    import sys

    from emer_live.features.face_cache import build_cache

    recipe = None
    if args.card:
        from emer_live.model_card import load_card

        recipe = load_card(args.card).crop_recipe
    elif args.encoder is None:
        from emer_live.features.face_cache import sessions_recipe

        recipe = sessions_recipe(args.faces_dir)
        if recipe is not None:
            print("emer-live faces cache: cut with the crop recipe the sessions' own face crops were made with "
                  "(session.json face_crops.recipe)", file=sys.stderr)
    summary = build_cache(args.faces_dir, args.out, frames=args.frames, workers=max(1, args.workers),
                          progress=not args.no_progress, face_encoder=args.encoder or "resnet18", recipe=recipe)
    print(json.dumps(summary))
    for sid, why in summary["failed"].items():
        print(f"emer-live faces cache: sample {sid} failed: {why}", file=sys.stderr)
    if summary["failed"]:
        print(f"emer-live faces cache: {len(summary['failed'])} of {summary['samples']} samples have no crops",
              file=sys.stderr)
        return 1
    return 0
