"""Display geometry for gaze data without 3D gaze vectors (Pro Lab and Studio exports): the
display's size and the viewing distance turn display points into gaze angles for I-VT. Set from
the command line, stored with a recorded session, and used again when it is replayed."""

from __future__ import annotations

import dataclasses

from emer_live.errors import EmerError


def add_geometry_arguments(parser) -> None:
    g = parser.add_argument_group("gaze geometry (only for gaze without 3D gaze vectors: Pro Lab / Studio exports)")
    g.add_argument("--screen-mm", metavar=("WIDTH", "HEIGHT"), nargs=2, type=float, default=None,
                   help="the display's visible size in mm (default 531 x 299, a 24-inch 16:9 display)")
    g.add_argument("--viewing-distance-mm", metavar="MM", type=float, default=None,
                   help="eyes to display in mm (default 650)")


def eye_params_from_args(args):
    """EyeParams with the geometry the user gave (the defaults otherwise)."""
    from emer_live.features.eye_v1 import EyeParams

    changes = {}
    size = getattr(args, "screen_mm", None)
    if size is not None:
        if not (0 < size[0] < float("inf") and 0 < size[1] < float("inf")):  # NaN fails too
            raise EmerError("--screen-mm needs a positive width and height in mm, e.g. --screen-mm 531 299")
        changes.update(screen_width_mm=float(size[0]), screen_height_mm=float(size[1]))
    dist = getattr(args, "viewing_distance_mm", None)
    if dist is not None:
        if not 0 < dist < float("inf"):
            raise EmerError("--viewing-distance-mm needs a positive distance in mm, e.g. 650")
        changes["screen_distance_mm"] = float(dist)
    return dataclasses.replace(EyeParams(), **changes)


def geometry_dict(params) -> dict:
    """The geometry as stored in a session's metadata (pipeline.eye_geometry)."""
    return {"screen_width_mm": params.screen_width_mm, "screen_height_mm": params.screen_height_mm,
            "viewing_distance_mm": params.screen_distance_mm}


def eye_params_from_meta(pipeline_meta: dict):
    """EyeParams of a recorded session (its stored geometry; the defaults for older sessions)."""
    from emer_live.features.eye_v1 import EyeParams

    g = (pipeline_meta or {}).get("eye_geometry") or {}
    stored = {"screen_width_mm": "screen_width_mm", "screen_height_mm": "screen_height_mm",
              "screen_distance_mm": "viewing_distance_mm"}  # EyeParams field -> session key
    changes = {k: float(g[m]) for k, m in stored.items() if m in g}
    return dataclasses.replace(EyeParams(), **changes)
