"""Crash safety: record the real video + simulated gaze in real time through the pipeline, kill
the recording process with SIGKILL at random moments (24 times, four at once), reopen every
session: it opens, every stream reads, the streams are in step (no prediction on disk ends after
the newest input on disk), a replay gives back every recorded prediction to 1e-5, and it exports.
The loss per stream at a kill is measured by `emer-live bench crash-loss` (docs/session-format.md); here
it is only held to a loose bound, as four recorders share the machine.

Run as a script (`python test_recording_crash.py child ...`) this file is the recording process.
The face stage there is a centre-crop test double, so the test measures the recorder, not
MediaPipe's start-up time.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np

KILLS = 24
PARALLEL = 4
MAX_LOSS_S = 1.0


class CentreCropFaceDouble:
    """Test double of FaceProcessor: the centre square of the frame as the 'face'."""

    def process(self, image_bgr):
        from emer_live.features.face import FaceResult

        import cv2

        h, w = image_bgr.shape[:2]
        s = min(h, w)
        x0, y0 = (w - s) // 2, (h - s) // 2
        crop = cv2.resize(image_bgr[y0:y0 + s, x0:x0 + s], (112, 112))[..., ::-1].copy()
        return FaceResult("ok", 1, (x0, y0, x0 + s, y0 + s), None, crop, "centre crop (test double)")

    def close(self):
        pass


def _child(folder: str, card: str, video: str, seed: int) -> None:
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.session import RecordingSession
    from emer_live.sources.simulated_gaze import SimulatedGazeSource
    from emer_live.sources.video_file import VideoFileSource

    engine = InferenceEngine(card, prefer_gpu=False)
    frames = VideoFileSource(video, realtime=True, loop=True)
    gaze = SimulatedGazeSource(rate_hz=120, seed=seed, realtime=True)
    session = RecordingSession(folder, f"P{seed:02d}", consent=True, model_card=engine.card,
                               devices={"frame_source": frames.info(), "gaze_source": gaze.info()},
                               pipeline={"update_hz": 10.0, "use_eye": True})

    def experimenter():  # markers and stimulus/SAM cycles while recording
        k = 0
        while True:
            time.sleep(0.3)
            session.add_marker("artifact")
            if k % 2 == 0:
                session.begin_stimulus(f"clip{k}")
            else:
                session.end_stimulus()
                session.add_self_assessment(1 + k % 9, 9 - k % 9, "sadness")
            k += 1

    threading.Thread(target=experimenter, daemon=True).start()
    print("READY", flush=True)
    run_offline(frames, gaze, engine, sinks=[session.sink], update_hz=10.0, batch=1,
                face_processor=CentreCropFaceDouble())


def test_kill_minus_nine_at_random_moments(tmp_path, real_video, repo_root):
    import cv2
    import pandas as pd

    from model_doubles import build_model_double

    from emer_live.clock import now_ns
    from emer_live.commands.replay import compare
    from emer_live.pipeline.engine import InferenceEngine
    from emer_live.pipeline.offline import run_offline
    from emer_live.recording.export import export_session
    from emer_live.recording.session_reader import SessionReader
    from emer_live.sources.replay import ReplayFrameSource, ReplayGazeSource, StoredFaceProcessor

    card = build_model_double(tmp_path / "model", window_s=1.0)
    rng = random.Random(5)
    runs = []  # (folder, kill_ns)
    for round_ in range(KILLS // PARALLEL):
        procs = []
        for j in range(PARALLEL):
            seed = round_ * PARALLEL + j
            folder = tmp_path / f"s{seed:02d}"
            p = subprocess.Popen([sys.executable, __file__, "child", str(folder), str(card), str(real_video), str(seed)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo_root, text=True)
            procs.append((p, folder))
        for p, folder in procs:
            line = p.stdout.readline()
            assert line.strip() == "READY", p.stderr.read()
        # Kill each at its own random moment, 0 to 3 s after it is ready (some before any write).
        deadlines = sorted((time.monotonic() + rng.uniform(0.0, 3.0), i) for i in range(PARALLEL))
        for t_kill, i in deadlines:
            time.sleep(max(0.0, t_kill - time.monotonic()))
            p, folder = procs[i]
            assert p.poll() is None, p.stderr.read()
            p.send_signal(signal.SIGKILL)
            runs.append((folder, now_ns()))
        for p, _ in procs:
            p.wait()
            p.stdout.close()
            p.stderr.close()
    assert len(runs) >= 20

    engine = InferenceEngine(card, prefer_gpu=False)
    losses, n_pred, n_replayed, n_video = [], 0, 0, 0
    for folder, kill_ns in runs:
        r = SessionReader(folder)
        start = int(r.meta["started_host_ns"])
        frames, (gaze_t, raw), preds = r.frames(), r.gaze(), r.predictions()
        r.markers(), r.self_assessment(), r.labels(), r.events()
        assert raw.shape[1] == 30
        for t in (frames["host_ns"], gaze_t):
            last = int(t[-1]) if len(t) else start
            losses.append((kill_ns - last) / 1e9)
        n_pred += len(preds)
        # Predictions trail their inputs by design, and on a loaded machine the pipeline may start
        # late, so they are held to the recorded inputs rather than to the kill time: once the
        # frames on disk span well over a window (window_s 1 s), predictions up to within the
        # loss bound of the last frame must be on disk too.
        if len(frames["host_ns"]) and frames["host_ns"][-1] - frames["host_ns"][0] > 2.5e9:
            assert preds and (frames["host_ns"][-1] - preds[-1]["window_end_ns"]) / 1e9 < MAX_LOSS_S + 0.2
        # Written in step: no prediction on disk ends after the newest input on disk (a window is
        # predicted once any input past its end arrives, so it may end between two frames).
        if preds:
            newest = max(int(frames["host_ns"][-1]) if len(frames["host_ns"]) else 0, int(gaze_t[-1]) if len(gaze_t) else 0)
            assert preds[-1]["window_end_ns"] <= newest, (preds[-1]["window_end_ns"] - newest) / 1e9
        if len(frames["host_ns"]) and len(gaze_t):
            src = ReplayFrameSource(r, realtime=False)
            res = run_offline(src, ReplayGazeSource(r, realtime=False), engine, update_hz=10.0,
                              face_processor=StoredFaceProcessor(src))
            assert res.stopped_by == "end_of_stream"
            # Every recorded window's inputs are on disk, so every one comes back the same.
            cmp = compare(preds, res.predictions)
            assert cmp["matched_windows"] == len(preds), cmp
            if preds:
                # predictions are stored rounded to 5 decimals: two roundings differ by up to 1e-5
                assert cmp["max_abs_diff"] <= 1e-5 + 1e-9, cmp
                n_replayed += len(preds)
        with_video = len(frames["host_ns"]) > 0 and n_video < 4  # a few, to keep the test short
        out = export_session(folder, tmp_path / "export" / folder.name, fmt="csv", video=with_video)
        assert len(pd.read_csv(out["tables"]["gaze"])) == len(gaze_t)
        if with_video:
            n_video += 1
            cap = cv2.VideoCapture(out["video"])
            assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames["host_ns"])
            cap.release()
    assert max(losses) < MAX_LOSS_S, sorted(losses)[-5:]
    assert n_pred > 0 and n_replayed > 0 and n_video > 0
    print(f"kills={len(runs)} loss_s max={max(losses):.3f} median={np.median(losses):.3f} "
          f"predictions={n_pred} replayed_equal={n_replayed}")


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
