"""Each stage on its own, single-threaded, on recorded inputs: video decode, face mesh,
alignment + crop, face encoder, eye features per sample and per window, fusion per window; and
the incremental window update (cached embeddings, fusion graph only) against recomputing all 8
face crops per window, in the same run."""

from __future__ import annotations

import threading
import time

import numpy as np

from emer_live.bench.stats import ratio, summarize_ms
from emer_live.features.face_box import DETECTOR_THREAD
from emer_live.types import Frame, GazeSample


class _TimedMesh:
    """Wraps the face processor's landmark call (the tracker, or the face mesh graph and the
    reading of its landmarks) so its own time is measured apart from the rest."""

    def __init__(self, run):
        self.run, self.last_ms = run, 0.0

    def __call__(self, image_bgr):
        t = time.perf_counter()
        out = self.run(image_bgr)
        self.last_ms = (time.perf_counter() - t) * 1000.0
        return out


def _timed_run(run, into: list):
    """A detector run (face_box.TrackedPlacement._read) that notes its own ms when the detector
    thread runs it (a new face's run stays in the face step, and in its time)."""
    def timed(*args):
        t = time.perf_counter()
        try:
            return run(*args)
        finally:
            if threading.current_thread().name.startswith(DETECTOR_THREAD):
                into.append((time.perf_counter() - t) * 1000.0)
    return timed


def _frames(source, max_frames: int):
    """(decode ms, Frame) for up to max_frames frames of the source, opened for this pass alone."""
    source.open()
    try:
        it, n = source.frames(), 0
        while n < max_frames:
            t0 = time.perf_counter()
            item = next(it, None)
            dt = (time.perf_counter() - t0) * 1000.0
            if item is None:
                break
            if isinstance(item, Frame):
                n += 1
                yield dt, item
    finally:
        source.close()


def face_stages(engine, source, max_frames: int, fer_box: str = "template") -> tuple[dict, list[np.ndarray]]:
    """Decode, landmarks, crop (by the card's recipe), rest of the face step, encoder, and the
    per-frame FER step as the live face thread runs it (face step + encoder + expression readout,
    every frame), over max_frames frames. Returns the stage summaries and the crops found.
    Then, in a pass of its own over the same frames (each path timed as it runs live, with nothing
    else between its frames): the face mesh graph in video mode in place of the tracker, and the
    earlier face path (up to 4 faces, the iris model, the levelled CLAHE crop).
    For a FER2013-framed model, one more pass: face step + per-frame FER with the live framing
    (fer_box "tracked": the detector for a new face, every few frames and on near ties,
    face_box.TrackedPlacement) and with the template, taking turns on each frame, for their ratio.
    fer_box "detector": also times the detector that would place the crop (gray conversion +
    `fer`'s detector in the landmark ROI, face_box.py, + the crop it places: `fer`'s 64x64 input
    lifted, fer_input.py) on every frame that gives a crop, right after the face step on the same
    frame; the face step itself stays the default one (its template crop is counted as well)."""
    from emer_live.features.face import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, FaceProcessor
    from emer_live.features.face_box import stands_for_fer2013
    from emer_live.features.face_crop import LEGACY_RECIPE
    from emer_live.pipeline.frame_fer import ExpressionReader

    card = engine.card
    proc = FaceProcessor(crop_size=card.crop_size, recipe=card.crop_recipe)
    proc._landmarks = timed = _TimedMesh(proc._landmarks)
    reader = ExpressionReader.for_engine(engine)

    def encode(crop) -> float:
        """ms for the encoder and the expression readout on one crop (0 with a single-graph model)."""
        if not engine.split:
            return 0.0
        t0 = time.perf_counter()
        emb = engine.embed_faces(crop[None])
        if reader is not None:
            reader.probs(emb[0])
        return (time.perf_counter() - t0) * 1000.0

    detector = None
    if fer_box == "detector":  # what the face step runs with that setting, timed on its own
        from emer_live.features.face_box import DetectorPlacement, check_fer_box

        check_fer_box(fer_box, card.crop_recipe, f"model {card.name!r}")
        detector = DetectorPlacement(card.crop_recipe, card.crop_size)
    t = {"fer_box_detector": [], "face_step_fer_detector": [], "decode": [], "face_mesh": [], "alignment_crop": [],
         "face_other": [], "face_step": [], "face_encoder": [], "face_step_fer": []}
    crops, status = [], {}
    try:
        for dt, item in _frames(source, max_frames):
            t["decode"].append(dt)
            t0 = time.perf_counter()
            res = proc.process(item.image)
            step = (time.perf_counter() - t0) * 1000.0
            t["face_step"].append(step)
            t["face_mesh"].append(timed.last_ms)
            status[res.status] = status.get(res.status, 0) + 1
            if res.crop is None:
                t["face_step_fer"].append(step)  # no face: the per-frame FER is "no face", nothing more
                continue
            # The crop again, alone, to time alignment + illumination normalisation by itself.
            lm = res.landmarks
            t0 = time.perf_counter()
            proc._crop(item.image, lm[RIGHT_EYE_OUTER, :2], lm[LEFT_EYE_OUTER, :2])
            crop_ms = (time.perf_counter() - t0) * 1000.0
            t["alignment_crop"].append(crop_ms)
            t["face_other"].append(max(0.0, step - timed.last_ms - crop_ms))
            crops.append(res.crop)
            det_ms = 0.0
            if detector is not None:
                t0 = time.perf_counter()
                detector(item.image, res.box, lambda right, left: proc._crop(item.image, right, left))
                det_ms = (time.perf_counter() - t0) * 1000.0
                t["fer_box_detector"].append(det_ms)
            if engine.split:
                enc_ms = encode(res.crop)
                t["face_encoder"].append(enc_ms)
                t["face_step_fer"].append(step + enc_ms)
                if detector is not None:
                    t["face_step_fer_detector"].append(step + det_ms + enc_ms)
    finally:
        proc.close()

    def whole_step_ms(other: FaceProcessor) -> list[float]:
        out = []
        with other:
            for _, item in _frames(source, max_frames):
                t0 = time.perf_counter()
                r = other.process(item.image)
                if r.crop is not None:
                    encode(r.crop)
                out.append((time.perf_counter() - t0) * 1000.0)
        return out

    def fer_steps_ms(boxes: tuple) -> dict:
        """Face step + per-frame FER as the live face thread runs it, for each FER placement: the
        encoder reads the FER crop (the placement's where it gave one, else the template's). The
        placements take turns on each frame (the order alternating), so a busy machine slows them
        alike, back to back as every stage here is timed. The live framing's near-tie runs go to its
        detector thread, and each is done before the next frame, as at a camera's 30 fps, where a run
        ends long before the next frame comes (the wait is not timed). The runs are timed on their
        own: the face step's p50 leaves them out, the mean time per frame on all threads counts them.
        (Frames paced at 30 fps instead slow every pass alike, the template's p50 from 3.0 to 5.5 ms
        in one run on the 2-core machine: each frame starts from an idle core.)"""
        procs = [FaceProcessor(crop_size=card.crop_size, recipe=card.crop_recipe, fer_box=b) for b in boxes]
        runs: dict = {b: [] for b in boxes}
        for b, proc_b in zip(boxes, procs):  # as the pipeline does: the live framing reads the FER of the crops it carries
            proc_b.attach_fer_reader(engine.embed_faces, reader.probs)
            placement = proc_b._placement
            if getattr(placement, "background", False):
                placement._read = _timed_run(placement._read, runs[b])
        ms, placed, by = {b: [] for b in boxes}, {b: {} for b in boxes}, {b: {} for b in boxes}
        try:
            for k, (_, item) in enumerate(_frames(source, max_frames)):
                for b, proc_b in (zip(boxes, procs) if k % 2 == 0 else reversed(list(zip(boxes, procs)))):
                    t0 = time.perf_counter()
                    r = proc_b.process(item.image)
                    if r.fer_embedding is not None:  # the placement ran the encoder on it already
                        reader.probs(r.fer_embedding)
                    elif r.crop is not None:
                        encode(r.crop if r.fer_crop is None else r.fer_crop)
                    ms[b].append((time.perf_counter() - t0) * 1000.0)
                    if r.fer_pending is not None:  # done before the next frame, as live at 30 fps
                        r.fer_pending.result()
                    key = "detector (thread)" if r.fer_pending is not None else r.placed_by or "template"
                    placed[b][key] = placed[b].get(key, 0) + (r.crop is not None)
                    by[b].setdefault(key, []).append(ms[b][-1])
        finally:
            for proc_b in procs:
                proc_b.close()
        out = {}
        for b in boxes:
            row = {**summarize_ms(ms[b], "frame"), "crops_placed_by": placed[b],
                   "p50_ms_by_placement": {k: round(float(np.median(v)), 3) for k, v in by[b].items()}}
            if runs[b]:
                row["detector_thread"] = {**summarize_ms(runs[b], "run"),
                                          "note": "near-tie detector runs on the detector thread, beside the face step"}
            row["mean_ms_per_frame_all_threads"] = round((sum(ms[b]) + sum(runs[b])) / max(1, len(ms[b])), 3)
            out[f"face_step_fer_{b}_pass"] = row
        return out

    mesh_graph = whole_step_ms(FaceProcessor(crop_size=card.crop_size, recipe=card.crop_recipe, tracker=False))
    live_framing = {}
    if reader is not None and stands_for_fer2013(card.crop_recipe):
        # the live framing and the template it replaces, taking turns on the same frames
        live_framing = fer_steps_ms(("template", "tracked"))
    earlier = whole_step_ms(FaceProcessor(crop_size=card.crop_size, recipe=LEGACY_RECIPE, max_num_faces=4,
                                          iris_landmarks=True))
    fer_rows = reader is not None
    skipped = {"skipped": "this model declares no per-frame expression output"}
    out = {
        "decode": summarize_ms(t["decode"], "frame"),
        "face_mesh": summarize_ms(t["face_mesh"], "frame"),
        "alignment_crop": summarize_ms(t["alignment_crop"], "face"),
        "face_other": summarize_ms(t["face_other"], "face"),
        "face_step_total": summarize_ms(t["face_step"], "frame"),
        "face_step_fer": summarize_ms(t["face_step_fer"], "frame") if fer_rows else skipped,
        "face_step_fer_mesh_graph": summarize_ms(mesh_graph, "frame") if fer_rows else skipped,
        "face_step_fer_earlier": summarize_ms(earlier, "frame"),
        "face_encoder": summarize_ms(t["face_encoder"], "face"),
        "face_status": status,
        "face_landmarks": "478 points (iris model)" if proc.iris_landmarks else "468 points (iris model off)",
        "max_faces": proc.max_num_faces,
        "landmarks_by": proc.landmarks_by,
    }
    out.update(live_framing)
    if detector is not None:
        out["fer_box_detector"] = summarize_ms(t["fer_box_detector"], "face")
        out["face_step_fer_detector"] = summarize_ms(t["face_step_fer_detector"], "face")
    return out, crops


def eye_stages(engine, t_ns: np.ndarray, raw: np.ndarray, update_hz: float, max_windows: int = 400):
    """Push every sample into the online eye pipeline, and build a window at the update rate.
    Returns (summaries, [(eye, fixation)] of some windows)."""
    from emer_live.features.eye import EyeProcessor

    window_s, enc = engine.window_s, engine.card.eye_encoding
    eye = EyeProcessor(history_s=max(130.0, 2 * window_s + 2))
    period = int(1e9 / update_hz)
    next_end = int(t_ns[0]) + int(window_s * 1e9)
    push_ms, win_ms, windows = [], [], []
    t_all = time.perf_counter()
    for t, v in zip(t_ns, raw):
        s = GazeSample(host_ns=int(t), values=v)
        t0 = time.perf_counter()
        eye.push(s)
        push_ms.append((time.perf_counter() - t0) * 1000.0)
        if t >= next_end and len(win_ms) < max_windows:
            t0 = time.perf_counter()
            w = eye.window(next_end, window_s, enc)
            win_ms.append((time.perf_counter() - t0) * 1000.0)
            windows.append((w.eye, w.fixation))
            next_end += period
    total_ms = (time.perf_counter() - t_all) * 1000.0
    push = summarize_ms(push_ms, "sample")
    push["amortised_us"] = round(1000.0 * sum(push_ms) / max(1, len(push_ms)), 3)
    return {"eye_push": push, "eye_window": summarize_ms(win_ms, "window"),
            "eye_stream_wall_ms": round(total_ms, 1), "eye_samples": int(len(t_ns))}, windows


def window_stages(engine, crops: list, windows: list, n: int = 200, batch: int = 16) -> dict:
    """Fusion per window on cached embeddings vs all 8 crops recomputed per window; batched replay."""
    if not crops or not windows:
        return {"skipped": "no face crops or no eye windows to build model windows from"}
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(crops), 8) for _ in range(n)]
    crop_stack = np.stack(crops)
    emb = engine.embed_faces(crop_stack) if engine.split else None
    inc, full, batched, paired = [], [], [], []
    no_eye, no_fix, _ = engine.neutral_eye()
    for k in range(n):
        e, f = windows[k % len(windows)]
        idx = picks[k]
        if emb is not None:
            t0 = time.perf_counter()
            engine.predict(emb[idx], e, f)
            inc.append((time.perf_counter() - t0) * 1000.0)
            # What the pipeline runs per window with gaze: the window and the same window with the
            # eye input withheld, in one call (eye_effect, pipeline/core.py).
            t0 = time.perf_counter()
            engine.predict_batch(np.stack([emb[idx]] * 2), np.stack([e, no_eye]), np.stack([f, no_fix]))
            paired.append((time.perf_counter() - t0) * 1000.0)
        t0 = time.perf_counter()
        engine.predict(crop_stack[idx], e, f)
        full.append((time.perf_counter() - t0) * 1000.0)
    src = emb if emb is not None else crop_stack
    for s in range(0, n - batch + 1, batch):
        ks = range(s, s + batch)
        t0 = time.perf_counter()
        engine.predict_batch(np.stack([src[picks[k]] for k in ks]), np.stack([windows[k % len(windows)][0] for k in ks]),
                             np.stack([windows[k % len(windows)][1] for k in ks]))
        batched.append((time.perf_counter() - t0) * 1000.0 / batch)
    out = {"fusion_window": summarize_ms(inc, "window"), "full_window_8_crops": summarize_ms(full, "window"),
           "fusion_batched_per_window": summarize_ms(batched, "window"), "batch": batch}
    out["full_over_incremental_p50"] = ratio(out["full_window_8_crops"].get("p50_ms"), out["fusion_window"].get("p50_ms"))
    out["fusion_window_with_eye_withheld"] = summarize_ms(paired, "window")
    out["eye_withheld_cost_ratio_p50"] = ratio(out["fusion_window_with_eye_withheld"].get("p50_ms"),
                                               out["fusion_window"].get("p50_ms"))
    return out
