"""`emer-live bench`: it runs end to end on very short settings and writes well-formed JSON and
Markdown; the simulated SDK feed drives the real TobiiGazeSource path without losing or inventing
samples. Nothing here asserts how fast this machine is."""

import json
import sys
import math
import re

import numpy as np
import pytest

from emer_live.bench.feeds import SimulatedTobiiSdk, sdk_dict_from_raw
from emer_live.bench.report import TARGETS, evaluate_targets, render_markdown
from emer_live.bench.stats import summarize_ms
from emer_live.cli import main as cli_main
from emer_live.sources.simulated_gaze import simulate_raw
from emer_live.sources.tobii import TobiiGazeSource
from emer_live.types import GazeSample, raw_from_sdk_dict
from model_doubles import build_model_double

STAGES = ("decode", "face_mesh", "alignment_crop", "face_step_total", "face_encoder")


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_sdk_dict_round_trip_on_simulated_gaze():
    _, raw = simulate_raw("sadness", 3.0, 300, np.random.default_rng(1))
    for row in raw[::37]:
        assert _same(raw_from_sdk_dict(sdk_dict_from_raw(row)), row)


def test_sdk_dict_round_trip_on_real_tobii_rows(tx300_files):
    from emer_live.sources.tobii_tsv import read_tobii_tsv

    rec = read_tobii_tsv(tx300_files[0])
    for row in rec.raw[:: max(1, len(rec.raw) // 50)]:
        assert _same(raw_from_sdk_dict(sdk_dict_from_raw(row)), row)


def test_simulated_sdk_feed_through_the_real_source_loses_nothing():
    _, raw = simulate_raw("happiness", 2.0, 600, np.random.default_rng(0))
    sdk = SimulatedTobiiSdk(600)
    sdk.prepare(raw)
    src = TobiiGazeSource(sdk=sdk)
    src.open()
    assert src.nominal_hz == 600 and "simulated" in src.label
    sdk.start(0.5)
    sdk.join(5)
    src.close()
    samples = [s for s in src.samples() if isinstance(s, GazeSample)]
    assert len(samples) == sdk.sent == src.arrived == 300
    assert src.stats.dropped == 0 and src.stats.invalid == 0
    assert np.all(np.diff([s.host_ns for s in samples]) > 0)
    assert _same(samples[5].values, raw[5])


def test_summaries():
    s = summarize_ms([1.0, 2.0, 3.0, 4.0], "frame")
    assert s["n"] == 4 and s["p50_ms"] == 2.5 and s["per_s"] == 400.0
    assert summarize_ms([], "frame") == {"n": 0, "unit": "frame"}


def _check_markdown(md: str):
    assert md.startswith("# EMER Live benchmark")
    lines = md.splitlines()
    for i, line in enumerate(lines):  # every table row has as many cells as its header
        if line.startswith("|") and i + 1 < len(lines) and re.fullmatch(r"\|(---\|)+", lines[i + 1]):
            n = line.count("|")
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert lines[j].count("|") == n, lines[j]
                j += 1


@pytest.fixture(scope="module")
def short_bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    face = {"crop_size": 112, "color": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "embedding_dim": 7,
            "expression": {"output": "face_embedding", "activation": "softmax",
                           "classes": ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]}}
    card = build_model_double(tmp / "model", window_s=1.0, card_overrides={"face": face})
    out = tmp / "out"
    rc = cli_main(["bench", "--model", str(card), "--seconds", "2.5", "--gaze-rates", "250,1200",
                   "--soak-minutes", "0.04", "--rss-every", "1", "--stage-frames", "20", "--replay-seconds", "3",
                   "--draw-seconds", "0", "--out", str(out)])
    return rc, out


def test_bench_command_writes_well_formed_report(short_bench):
    rc, out = short_bench
    assert rc == 0
    data = json.loads((out / "bench.json").read_text())
    m = data["machine"]
    assert m["provider_in_use"] == "CPUExecutionProvider" == data["model"]["provider"]
    for k in ("cpu", "cores_logical", "ram_gb", "os", "python", "onnxruntime", "gpu"):
        assert m[k] not in (None, "")
    face = data["stages"]["face"]
    for k in STAGES:
        assert face[k]["n"] > 0 and face[k]["p50_ms"] <= face[k]["p95_ms"] <= face[k]["p99_ms"]
    assert sum(face["face_status"].values()) == 20
    assert face["face_step_fer"]["n"] == 20  # every frame: per-frame FER or "no face"
    assert face["face_step_fer"]["p50_ms"] >= face["face_step_total"]["p50_ms"] * 0.5
    assert face["max_faces"] == 1 and face["face_landmarks"].startswith("468")
    assert face["landmarks_by"].startswith("landmark model tracked")
    assert face["face_step_fer_mesh_graph"]["n"] == face["face_step_fer_earlier"]["n"] == 20
    eye = data["stages"]["eye"]
    assert eye["eye_push"]["n"] == eye["eye_samples"] and eye["eye_window"]["n"] > 0
    win = data["stages"]["window"]
    assert win["fusion_window"]["n"] == win["full_window_8_crops"]["n"] > 0
    assert win["full_over_incremental_p50"] > 0
    assert win["fusion_window_with_eye_withheld"]["n"] == win["fusion_window"]["n"]  # measured in the same loop
    assert data["ratios"]["eye_effect"]["ratio"] == win["eye_withheld_cost_ratio_p50"] > 0

    runs = data["live"]["runs"]
    assert [r["gaze_rate_hz"] for r in runs] == [250.0, 1200.0]
    for r in runs:
        g = r["gaze"]
        assert g["delivered_by_sdk"] == g["arrived_in_callback"] > 0
        assert g["processed"] + g["dropped"] == g["delivered_by_sdk"]
        f = r["frames"]
        assert f["offered"] > 0 and 0 <= f["dropped_pct"] <= 100
        assert r["predictions"]["count"] == r["capture_to_prediction"]["n"]
        assert r["cpu_s_per_wall_s"] is None or r["cpu_s_per_wall_s"] > 0
        by_thread = r["cpu_by_thread"]
        if sys.platform.startswith("linux"):  # read from /proc: the pipeline's threads by name
            assert {"emer-face", "emer-gaze", "emer-window"} <= set(by_thread)
            assert all(v >= 0 for v in by_thread.values()) and sum(by_thread.values()) > 0
            assert f"CPU s per wall s by thread at gaze {r['gaze_rate_hz']:g} Hz: " in (out / "bench.md").read_text()
        else:
            assert by_thread is None
    assert data["replay"]["media_s"] > 0 and data["replay"]["x_real_time"] > 0
    soak = data["soak"]
    assert len(soak["rss_mb"]) >= 2 and all(v > 0 for _, v in soak["rss_mb"])

    keys = [t["key"] for t in data["targets"]]
    assert keys == list(TARGETS)
    assert all(t["met"] in (True, False, None) and t["measured"] for t in data["targets"])
    assert "incremental" in data["ratios"] and "replay" in data["ratios"]
    assert "fer_box_detector" not in face and "fer_box_detector" not in data["ratios"]  # only when asked

    md = (out / "bench.md").read_text()
    _check_markdown(md)
    for heading in ("## Machine", "## Targets", "## Stages (ms)", "## Side by side", "## Live runs",
                    "## Offline replay", "## Memory soak"):
        assert heading in md


def test_torch_section_merges_into_the_report(short_bench):
    _, out = short_bench
    data = json.loads((out / "bench.json").read_text())
    row = {"graph": "fusion", "batch": 1, "ort": {"p50_ms": 0.5}, "torch": {"p50_ms": 2.0}, "torch_over_ort": 4.0,
           "max_abs_diff": 1e-7}
    data["ort_vs_torch"] = {"rows": [row], "torch": "x", "onnxruntime": "y", "threads": {}, "model": "m"}
    md = render_markdown(data)
    _check_markdown(md)
    assert "## ONNX Runtime vs PyTorch eager" in md and "| fusion | 1 | 0.50 | 2.00 | 4.00 |" in md


def test_targets_without_runs_are_not_measured():
    t = {x["key"]: x for x in evaluate_targets({})}
    assert t["rss_growth"]["met"] is None and "not measured" in t["rss_growth"]["measured"]
    _check_markdown(render_markdown({"machine": {}}))


def test_bench_on_real_recordings(tmp_path, real_video, tx300_files):
    from emer_live.bench.run import BenchConfig, run_bench

    card = build_model_double(tmp_path / "model", window_s=1.0)
    cfg = BenchConfig(video=real_video, tsv=tx300_files[0].parent, model=card, gaze_rates=(300.0,), seconds=2.0,
                      soak_minutes=0, stage_frames=15, replay_seconds=2, draw_seconds=0)
    data = run_bench(cfg)
    assert data["inputs"]["frames"] == real_video.name and "recorded Tobii" in data["inputs"]["gaze"]
    assert data["stages"]["face"]["face_status"].get("ok", 0) > 0  # the real video shows a face
    assert math.isclose(data["replay"]["media_s"], 19.7, abs_tol=0.5)  # the whole video replayed
    assert data["replay"]["predictions"] > 0 and data["replay"]["gaze"] == "recorded files"
    from emer_live.sources.tobii_tsv import read_tobii_tsv

    folder = sorted(tx300_files[0].parent.glob("*.tsv"))
    assert data["stages"]["eye"]["eye_samples"] == sum(len(read_tobii_tsv(f).t_us) for f in folder)
    assert {t["key"]: t for t in data["targets"]}["rss_growth"]["met"] is None


def test_replay_with_recordings_shorter_than_the_window_times_the_fusion_on_simulated_gaze(real_video, tx300_files,
                                                                                         tmp_path):
    """The TX300 trials (about 4 s each) are separate recordings, and no window spans two: with an
    8 s window they give no prediction, so the replay says so and uses simulated gaze instead."""
    from emer_live.bench.run import BenchConfig, _replay
    from emer_live.pipeline.engine import InferenceEngine

    engine = InferenceEngine(build_model_double(tmp_path / "model", window_s=8.0), prefer_gpu=False)
    r = _replay(engine, BenchConfig(video=real_video, tsv=tx300_files[0].parent))
    assert r["predictions"] > 0 and r["gaze"].startswith("simulated (the recorded files gave no prediction")


def test_the_detector_box_is_timed_beside_the_face_step_when_asked(real_video, tmp_path):
    """--fer-box detector adds the detector's timing on every frame with a crop (bundled model,
    real frames), and a model whose crop recipe is not FER2013 framing is refused."""
    from emer_live.bench.inputs import frame_source
    from emer_live.bench.stages import face_stages
    from emer_live.pipeline.engine import InferenceEngine, default_model_path

    if not default_model_path().exists():
        pytest.skip("default model not exported")
    engine = InferenceEngine(None, prefer_gpu=False)
    face, crops = face_stages(engine, frame_source(real_video), 12, "detector")
    assert face["fer_box_detector"]["n"] == face["face_step_fer_detector"]["n"] == len(crops) == 12
    assert face["face_step_fer_detector"]["p50_ms"] > face["fer_box_detector"]["p50_ms"]
    md = render_markdown({"stages": {"face": face}})
    assert "--fer-box detector" in md
    other = InferenceEngine(build_model_double(tmp_path), prefer_gpu=False)
    with pytest.raises(ValueError, match="FER2013 framing"):
        face_stages(other, frame_source(real_video), 2, "detector")


def test_performance_page_is_generated_from_the_bench_json(short_bench, tmp_path):
    """`emer-live bench docs` writes the page from one bench.json: its tables are the report's,
    figure for figure, under the page's fixed text."""
    rc, out = short_bench
    page = tmp_path / "performance.md"
    assert cli_main(["bench", "docs", "--json", str(out / "bench.json"), "--out", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("<!-- Generated by `emer-live bench docs") and "# EMER Live benchmark" not in text
    assert "## How it is measured" in text and "## Latest run" in text and "### Machine" in text
    report = (out / "bench.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("|")]
    assert rows and all(line in text.splitlines() for line in rows)


def test_performance_page_warns_when_the_machine_was_shared():
    from emer_live.bench.docs import load_note

    note = load_note({"cores_usable": 2, "load_avg_1min": 6.0, "load_avg_1min_end": 3.5})
    assert "6.0 at the start, 3.5 at the end on 2 cores" in note
    assert load_note({"cores_usable": 2, "load_avg_1min": 0.4, "load_avg_1min_end": 1.9}) == ""
    assert load_note({}) == ""


def test_the_live_framing_is_timed_in_turns_with_the_template(real_video):
    """The bundled FER2013 model: face step + per-frame FER with the live framing (fer_box
    "tracked") and with the template, taking turns on the same real frames at the clip's pace; the
    detector runs on the first frame in the face step and on near ties on its own thread, whose runs
    are timed apart; the report gives the target, both passes and the time on all threads."""
    from emer_live.bench.inputs import frame_source
    from emer_live.bench.report import evaluate_targets
    from emer_live.bench.stages import face_stages
    from emer_live.pipeline.engine import InferenceEngine, default_model_path

    if not default_model_path().exists():
        pytest.skip("default model not exported")
    face, _ = face_stages(InferenceEngine(None, prefer_gpu=False), frame_source(real_video), 12)
    tracked, template = face["face_step_fer_tracked_pass"], face["face_step_fer_template_pass"]
    assert tracked["n"] == template["n"] == 12
    placed = tracked["crops_placed_by"]
    assert placed["detector"] == 1 and sum(placed.values()) == 12  # the first frame, in the face step
    assert set(placed) <= {"detector", "tracked", "detector (thread)"} and placed.get("detector (thread)", 0) < 11
    threaded = placed.get("detector (thread)", 0)
    assert tracked.get("detector_thread", {}).get("n", 0) == threaded  # each near tie's run, timed on its thread
    assert template["crops_placed_by"] == {"template": 12}
    assert set(tracked["p50_ms_by_placement"]) == set(placed)
    assert tracked["mean_ms_per_frame_all_threads"] >= tracked["mean_ms"]
    (t,) = [t for t in evaluate_targets({"stages": {"face": face}}) if t["key"] == "face_step_fer_live_framing"]
    assert t["met"] in (True, False) and f"p50 {tracked['p50_ms']:.2f} ms" in t["measured"]
    assert f"(the detector there 1, on its thread {threaded})" in t["measured"]
    assert "face step + per-frame FER, live framing" in render_markdown({"stages": {"face": face}})
