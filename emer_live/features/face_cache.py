"""Face crops of training videos through the runtime's own face pipeline, cached on disk once.

A model must see at training time the faces the app gives it at run time: landmarks, eye-corner
alignment, illumination normalisation and crop exactly as `FaceProcessor` makes them live. This
runs that pipeline over a folder of sample videos (or image folders, or recorded sessions, read
from their own video), on `frames` evenly spaced
frames per sample, and writes per sample ID.npz with

    crops        (K, S, S, 3) uint8 RGB, the crops of the frames where a face was found
    frame_index  (K,) their frame numbers in the video (or image order)
    n_frames     frames looked at; statuses: how many were ok / no_face / too_small / cut_off

plus manifest.json with the crop recipe (emer_live.features.face_crop: the model card's face.crop,
chosen for the face encoder to be trained, so the exported card asks the app for the same crop). Training (training/data/emer.py) reads only these files,
so epochs never decode video, and the training environment needs no MediaPipe. A sample already
in the cache with the same recipe is not processed again. Samples where no face is found in any
frame get no file; they are listed in the returned summary and in manifest.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from emer_live.errors import SourceError

MANIFEST = "manifest.json"
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_EXT = (".mp4", ".avi", ".mov", ".mkv")
SCHEMA = "emer-face-crops/1"


def manifest_recipe(recipe, crop_size: int = 112) -> dict:
    """How the crops are made, as stored in manifest.json: the card's face.crop recipe and size."""
    return {"crop_size": int(crop_size), **recipe.to_card()}


def sample_sources(folder: Path) -> dict[str, Path]:
    """{sample id: video file or image folder} in a faces folder."""
    if not folder.is_dir():
        raise SourceError(f"faces folder {folder} does not exist")
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_dir() or p.suffix.lower() in VIDEO_EXT:
            out.setdefault(p.stem if p.is_file() else p.name, p)
    if not out:
        raise SourceError(f"faces folder {folder} holds no videos ({', '.join(VIDEO_EXT)}) or image folders")
    return out


def is_session(folder: Path) -> bool:
    """A recorded session folder (its frames are read from its own video, not as images)."""
    return folder.is_dir() and (folder / "session.json").is_file()


def sessions_recipe(faces_dir: str | Path):
    """The crop recipe (CropRecipe) a folder of recorded sessions' own face crops were made with,
    when every sample is a session and they share one; None otherwise (not all sessions, or
    sessions recorded with different models: then the caller names the recipe)."""
    import json as _json

    from emer_live.features.face_crop import recipe_of_card

    sources = sample_sources(Path(faces_dir))
    if not all(is_session(p) for p in sources.values()):
        return None
    recipes = set()
    for p in sources.values():
        try:
            meta = _json.loads((p / "session.json").read_text())
        except (OSError, ValueError):
            return None
        recipes.add(_json.dumps((meta.get("face_crops") or {}).get("recipe"), sort_keys=True))
    if len(recipes) != 1:
        return None
    return recipe_of_card({"crop": _json.loads(recipes.pop())})


def _session_frames(folder: Path, n: int):
    """(frame number, BGR image) for n frames evenly spaced over a recorded session's video."""
    from emer_live.errors import RecordingError
    from emer_live.recording.session_reader import SessionReader

    try:
        reader = SessionReader(folder)
        table = reader.frames()
    except RecordingError as e:
        raise SourceError(f"session {folder}: {e}") from None
    if not len(table["frame_index"]):
        raise SourceError(f"session {folder} holds no frames")
    try:
        for row in np.unique(np.linspace(0, len(table["frame_index"]) - 1, n).round().astype(int)):
            img = reader.frame_image(int(row))
            if img is not None:  # a torn JPEG is skipped, as a frame that cannot be read
                yield int(table["frame_index"][row]), img
    finally:
        reader.close()


def _frames(source: Path, n: int):
    """Yield (frame number, BGR image) for n frames evenly spaced over a video, a recorded session
    or an image folder."""
    if is_session(source):
        yield from _session_frames(source, n)
        return
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXT)
        if not files:
            raise SourceError(f"face folder {source} holds no images ({', '.join(IMAGE_EXT)})")
        for i in np.unique(np.linspace(0, len(files) - 1, n).round().astype(int)):
            img = cv2.imread(str(files[i]))
            if img is None:
                raise SourceError(f"face image {files[i]} cannot be decoded")
            yield int(i), img
        return
    cap = cv2.VideoCapture(str(source))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or count < 1:
        raise SourceError(f"face video {source} cannot be opened or has no frames")
    want = set(np.unique(np.linspace(0, count - 1, n).round().astype(int)).tolist())
    try:
        for i in range(max(want) + 1):  # read straight through: seeking is slow and inexact in many codecs
            if i not in want:
                if not cap.grab():
                    break
                continue
            ok, img = cap.read()
            if not ok:
                break
            yield i, img
    finally:
        cap.release()


_worker_processor = None


def _init_worker(crop_size: int, recipe_card: dict) -> None:
    global _worker_processor
    from emer_live.features.face import FaceProcessor
    from emer_live.features.face_crop import CropRecipe

    # frames far apart: detect anew on each (the live video mode tracks consecutive frames)
    _worker_processor = FaceProcessor(crop_size=crop_size, static_image_mode=True,
                                      recipe=CropRecipe.from_card(recipe_card))


def _process(job: tuple) -> tuple[str, Optional[str], dict]:
    sid, source, out_path, n = job
    counts = {"ok": 0, "no_face": 0, "too_small": 0, "cut_off": 0}
    crops, idx = [], []
    try:
        for i, img in _frames(Path(source), n):
            res = _worker_processor.process(img)
            counts[res.status] += 1
            if res.crop is not None:
                crops.append(res.crop)
                idx.append(i)
    except SourceError as e:
        return sid, str(e), counts
    if not crops:
        return sid, f"no face found in any of the {sum(counts.values())} frames looked at", counts
    tmp = Path(out_path).with_name(Path(out_path).stem + ".tmp.npz")
    np.savez_compressed(tmp, crops=np.stack(crops), frame_index=np.array(idx, np.int64),
                        n_frames=sum(counts.values()), statuses=json.dumps(counts))
    os.replace(tmp, out_path)
    return sid, None, counts


def build_cache(faces_dir: str | Path, out_dir: str | Path, frames: int = 32, crop_size: int = 112,
                workers: int = 1, progress: bool = True, face_encoder: str = "resnet18",
                recipe=None) -> dict:
    """Crop every sample of `faces_dir` into `out_dir` (see the module doc) with the crop recipe of
    `face_encoder` (the encoder the model will be trained with), or `recipe` (a CropRecipe, e.g. a
    model card's: the one a session's own crops were made with); returns a summary."""
    from emer_live.features.face_crop import recipe_for_encoder

    faces_dir, out_dir = Path(faces_dir), Path(out_dir)
    sources = sample_sources(faces_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = recipe if recipe is not None else recipe_for_encoder(face_encoder)
    recipe_card = recipe.to_card()
    recipe = manifest_recipe(recipe, crop_size)
    mpath = out_dir / MANIFEST
    old = json.loads(mpath.read_text()) if mpath.is_file() else None
    if old and (old.get("recipe") != recipe or old.get("frames") != frames):
        raise SourceError(f"{out_dir} holds crops made another way ({mpath}: recipe or frames per sample differ); "
                          "use a new folder")
    jobs = [(sid, str(src), str(out_dir / f"{sid}.npz"), frames) for sid, src in sources.items()
            if not (out_dir / f"{sid}.npz").is_file()]
    # samples that failed before and are still in the folder (a removed one is no longer a failure)
    failed = {k: v for k, v in (old.get("failed", {}) if old else {}).items() if k in sources}
    totals = {"ok": 0, "no_face": 0, "too_small": 0, "cut_off": 0}
    bar = _bar(len(jobs), progress)
    if jobs and workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(crop_size, recipe_card)) as pool:
            results = pool.imap_unordered(_process, jobs)
            for r in results:
                _collect(r, failed, totals)
                bar(r[0])
    elif jobs:
        _init_worker(crop_size, recipe_card)
        for job in jobs:
            r = _process(job)
            _collect(r, failed, totals)
            bar(r[0])
    bar(None)
    manifest = {"schema": SCHEMA, "recipe": recipe, "face_encoder": face_encoder, "frames": frames,
                "source": str(faces_dir),
                "updated_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "samples": len(sources), "failed": failed}
    tmp = mpath.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, mpath)
    return {"samples": len(sources), "processed": len(jobs), "cached_before": len(sources) - len(jobs),
            "failed": failed, "frames": totals}


def _collect(r, failed: dict, totals: dict) -> None:
    sid, err, counts = r
    for k, v in counts.items():
        totals[k] += v
    if err:
        failed[sid] = err
    else:
        failed.pop(sid, None)


def _bar(total: int, show: bool):
    """A one-line progress bar on stderr (tqdm when present)."""
    if not show or not total:
        return lambda _sid: None
    try:
        from tqdm import tqdm

        t = tqdm(total=total, desc="face crops", unit="sample")
        return lambda sid: t.close() if sid is None else t.update(1)
    except ImportError:
        import sys

        done = [0]

        def step(sid):
            if sid is None:
                sys.stderr.write("\n")
                return
            done[0] += 1
            sys.stderr.write(f"\rface crops: {done[0]}/{total}")
            sys.stderr.flush()

        return step


def load_crops(cache_dir: Path, sample_id: str) -> np.ndarray:
    """(K, S, S, 3) uint8 RGB crops of one sample from a cache made by build_cache."""
    path = cache_dir / f"{sample_id}.npz"
    if not path.is_file():
        mpath = cache_dir / MANIFEST
        why = ""
        if mpath.is_file():
            why = json.loads(mpath.read_text()).get("failed", {}).get(sample_id, "")
        raise SourceError(f"sample {sample_id!r}: no face crops in {cache_dir}"
                          + (f" ({why})" if why else " (run `emer-live faces cache` on the faces folder first)"))
    with np.load(path, allow_pickle=False) as z:
        return z["crops"]
