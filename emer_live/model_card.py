"""The model card: the contract between the training package (which writes it beside every
exported model) and the app (which refuses a model whose card does not match what it feeds).

Card file: NAME.card.json beside NAME.onnx (whole model) and the split graphs it names.

Optional face fields (older cards lack them and keep working):
- face.crop: the crop recipe (emer_live.features.face_crop); absent = the legacy recipe.
- face.expression: the face encoder's own per-frame expression output, read at camera rate for the
  per-frame FER: {"output": "face_embedding", "activation": "softmax", "classes": [the seven
  labels.emotions7 names in the embedding's order], "source": "..."}. Absent = the face encoder
  gives none, and the app has no per-frame FER for that model (it says so).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from emer_live.errors import ModelError
from emer_live.features.face_crop import CropRecipe, recipe_of_card, recipe_problems
from emer_live.labels import CLASSES_3, EMOTIONS_7

CARD_SCHEMA = "emer-model-card/1"

# Inputs and outputs of every exported graph, by name. Shapes use "B" for the dynamic batch.
FULL_INPUTS = ("face", "eye", "fixation")  # (B,8,3,S,S) float32, (B,32,39), (B,32,2)
FACE_ENCODER_INPUTS = ("face_crop",)  # (B,3,S,S) float32 -> "face_embedding" (B,D)
FUSION_INPUTS = ("face_embeddings", "eye", "fixation")  # (B,8,D), (B,32,39), (B,32,2)
OUTPUTS = ("er_p7", "er_p3", "er_va", "fer_p7", "fer_p3", "fer_va", "fer_intensity")
# er_p7/fer_p7: (B,7) softmax over labels.EMOTIONS_7; *_p3: (B,3) over labels.CLASSES_3;
# *_va: (B,2) valence, arousal in [-1, 1]; fer_intensity: (B,1) in [0, 3].

# What this runtime can feed; a card asking for anything else is refused.
SUPPORTED = {
    "face_frames": 8,
    "eye_steps": 32,
    "eye_dim": 39,
    "fixation_dim": 2,
    "eye_schemas": ("eye-v1", "eye-v2", "eye-v3"),
    # a schema whose values changed meaning after models could be trained on it: the revision the
    # app computes (cards of an earlier revision are refused, not fed numbers they were not made for)
    "eye_schema_revisions": {"eye-v2": 2},
    "eye_encodings": ("point", "segment"),
    "crop_sizes": (112,),
    "color": ("RGB",),
}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelCard:
    path: Path  # the .card.json file
    data: dict

    # --- convenient views -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def window_s(self) -> float:
        return float(self.data["window_s"])

    @property
    def crop_size(self) -> int:
        return int(self.data["face"]["crop_size"])

    @property
    def crop_recipe(self) -> CropRecipe:
        return recipe_of_card(self.data["face"])

    @property
    def expression(self) -> dict | None:
        """The face encoder's per-frame expression output (face.expression), or None."""
        return self.data["face"].get("expression")

    @property
    def fer_head_trained(self) -> bool:
        """False when the card declares the FER head untrained (it saw no FER label in training);
        cards that say nothing about their heads are read as trained."""
        fer = (self.data.get("heads") or {}).get("fer")
        return not (isinstance(fer, dict) and fer.get("trained") is False)

    @property
    def eye_encoding(self) -> str:
        return self.data["eye"]["encoding"]

    @property
    def eye_schema(self) -> str:
        return self.data["eye"]["schema"]

    @property
    def eye_guard(self) -> dict | None:
        """Training statistics for the unfamiliar-input guard (emer_live.features.eye_norm), if any."""
        return self.data["eye"].get("guard")

    @property
    def provenance_summary(self) -> str:
        return self.data["provenance"]["summary"]

    def graph_path(self, which: str) -> Path | None:
        """'full', 'face_encoder' or 'fusion': the ONNX file, or None if not exported."""
        rel = self.data["graphs"].get(which)
        return (self.path.parent / rel) if rel else None

    def sha256(self) -> str:
        return file_sha256(self.path)


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card (or the card beside a given .onnx). Raises ModelError."""
    path = Path(path)
    if path.suffix == ".onnx":
        path = path.with_name(path.name[: -len(".onnx")] + ".card.json")
    if not path.exists():
        raise ModelError(f"Model card not found: {path}. Every model needs its NAME.card.json beside NAME.onnx.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"Model card {path} is not readable JSON: {e}") from None
    card = ModelCard(path=path, data=data)
    problems = validate_card(card)
    if problems:
        raise ModelError(f"Model card {path} does not match what EMER Live can feed:\n  - " + "\n  - ".join(problems))
    return card


def validate_card(card: ModelCard) -> list[str]:
    """Every difference between the card and what this runtime feeds, as readable lines."""
    d = card.data
    problems: list[str] = []

    def need(key_path: str):
        cur = d
        for k in key_path.split("."):
            if not isinstance(cur, dict) or k not in cur:
                problems.append(f"missing field '{key_path}'")
                return None
            cur = cur[k]
        return cur

    if d.get("schema") != CARD_SCHEMA:
        problems.append(f"schema is {d.get('schema')!r}, this app reads {CARD_SCHEMA!r}")
        return problems
    for key in ("name", "window_s", "graphs", "face.crop_size", "face.color", "face.mean", "face.std",
                "face.embedding_dim", "eye.schema", "eye.encoding", "eye.steps", "eye.mean", "eye.std",
                "fixation.steps", "face_frames", "labels.emotions7", "labels.classes3", "provenance.kind",
                "provenance.summary", "outputs"):
        need(key)
    if problems:
        return problems
    if not (isinstance(d["window_s"], (int, float)) and d["window_s"] > 0):
        problems.append(f"window_s must be a positive number of seconds, got {d['window_s']!r}")
    if d["face_frames"] != SUPPORTED["face_frames"]:
        problems.append(f"face_frames is {d['face_frames']}, the app feeds {SUPPORTED['face_frames']}")
    if d["eye"]["steps"] != SUPPORTED["eye_steps"] or d["fixation"]["steps"] != SUPPORTED["eye_steps"]:
        problems.append(f"eye/fixation steps are {d['eye']['steps']}/{d['fixation']['steps']}, the app feeds {SUPPORTED['eye_steps']}")
    if d["eye"]["schema"] not in SUPPORTED["eye_schemas"]:
        problems.append(f"eye schema {d['eye']['schema']!r} is unknown; the app computes {SUPPORTED['eye_schemas']}")
    revision = SUPPORTED["eye_schema_revisions"].get(d["eye"]["schema"])
    if revision is not None and d["eye"].get("schema_revision", 1) != revision:
        # eye-v2 revision 2 left out the 3D gaze point and gaze directions and takes I-VT from the
        # display point in every layout (emer_live/features/eye_v1.py)
        problems.append(f"eye schema {d['eye']['schema']} revision {d['eye'].get('schema_revision', 1)}: the app computes "
                        f"revision {revision}, whose values differ (docs/training.md, eye-v2); export the model again "
                        f"from training with this version")
    if d["eye"]["encoding"] not in SUPPORTED["eye_encodings"]:
        problems.append(f"eye encoding {d['eye']['encoding']!r} is unknown; the app has {SUPPORTED['eye_encodings']}")
    for k in ("mean", "std"):
        if len(d["eye"][k]) != SUPPORTED["eye_dim"]:
            problems.append(f"eye.{k} has {len(d['eye'][k])} values, {d['eye']['schema']} has {SUPPORTED['eye_dim']}")
        if len(d["face"][k]) != 3:
            problems.append(f"face.{k} must have 3 values (per RGB channel)")
    if d["face"]["crop_size"] not in SUPPORTED["crop_sizes"]:
        problems.append(f"face crop {d['face']['crop_size']} px; the app makes {SUPPORTED['crop_sizes']}")
    if d["face"]["color"] not in SUPPORTED["color"]:
        problems.append(f"face colour order {d['face']['color']!r}; the app gives {SUPPORTED['color']}")
    if list(d["labels"]["emotions7"]) != list(EMOTIONS_7):
        problems.append(f"7-class labels {d['labels']['emotions7']} differ from the app's {list(EMOTIONS_7)}")
    if list(d["labels"]["classes3"]) != list(CLASSES_3):
        problems.append(f"3-class labels {d['labels']['classes3']} differ from the app's {list(CLASSES_3)}")
    if "crop" in d["face"]:
        problems += recipe_problems(d["face"]["crop"])
    if "expression" in d["face"]:
        problems += expression_problems(d["face"]["expression"], int(d["face"]["embedding_dim"]))
    missing_out = [o for o in OUTPUTS if o not in d["outputs"]]
    if missing_out:
        problems.append(f"outputs lack {missing_out}")
    graphs = d["graphs"]
    if not (graphs.get("full") or (graphs.get("face_encoder") and graphs.get("fusion"))):
        problems.append("graphs must name 'full', or both 'face_encoder' and 'fusion'")
    for which, rel in graphs.items():
        if rel and not (card.path.parent / rel).exists():
            problems.append(f"graph '{which}' file {card.path.parent / rel} does not exist")
    return problems


def expression_problems(x, embedding_dim: int) -> list[str]:
    if not isinstance(x, dict):
        return ["face.expression must be an object"]
    out = []
    if x.get("output") != "face_embedding":
        out.append(f"face.expression.output {x.get('output')!r}: the app reads 'face_embedding'")
    if x.get("activation") != "softmax":
        out.append(f"face.expression.activation {x.get('activation')!r}: the app applies 'softmax'")
    classes = x.get("classes")
    if not (isinstance(classes, list) and sorted(classes) == sorted(EMOTIONS_7)):
        out.append(f"face.expression.classes must name each of {list(EMOTIONS_7)} once, in the embedding's order")
    elif embedding_dim != len(classes):
        out.append(f"face.expression: {len(classes)} classes but the face embedding has {embedding_dim} values")
    return out


def write_card(path: str | Path, data: dict) -> Path:
    """Write a card (used by the training exporter); validates first so no bad card is written."""
    path = Path(path)
    data = {"schema": CARD_SCHEMA, **data}
    problems = validate_card(ModelCard(path=path, data=data))
    if problems:
        raise ModelError("Refusing to write an invalid model card:\n  - " + "\n  - ".join(problems))
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
