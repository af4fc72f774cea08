"""`emer-live run --headless` end to end: real video, real and simulated gaze, bad input."""

import json

import pytest

from emer_live import cli
import tobii_exports as tx
from model_doubles import build_model_double


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return str(build_model_double(tmp_path_factory.mktemp("m"), window_s=8.0))


def run_cli(capsys, *argv):
    rc = cli.main(["run", "--headless", *argv])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return rc, lines, err


def check_run(lines):
    preds = [d for d in lines if d["type"] == "prediction"]
    summary = lines[-1]
    assert summary["type"] == "summary" and len(preds) == summary["predictions"] > 0
    for p in preds:
        assert p["t_s"] >= p["window_s"]  # nothing before a full window
        assert abs(sum(p["er"]["probs7"].values()) - 1) < 1e-3 and 0 <= p["gap"]["jsd"] <= 1
        assert p["provider"] == summary["provider"] and p["face_valid"] >= 4
    for name, d in summary["drops"].items():
        assert d["count"] > 0 and d["reason"] and d["reason"] != name  # every drop is explained
    assert summary["latency_p50_ms"] is not None and summary["face_found_pct"] > 50
    return preds, summary


def test_real_video_with_simulated_gaze(capsys, card, real_video):
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", "simulated", "--model", card)
    assert rc == 0
    preds, s = check_run(lines)
    assert s["mode"] == "fast" and s["frames"] == 472 and s["simulated_gaze"] and not s["demo_input"]
    assert all(p["simulated_gaze"] for p in preds)
    assert s["stopped_by"] == "end_of_stream" and "gaze is simulated" in " ".join(s["notes"])
    # the gaze the pipeline used is all the source delivered, but the one read past the end
    assert s["gaze_source"]["stats"]["delivered"] - s["samples"] == s["drops"].get("inputs_after_end", {}).get("count", 0)


def test_real_video_with_real_tx300_gaze(capsys, real_video, tx300_files, tmp_path):
    # Each of the ten recordings (1.4 to 4 s) plays as its own segment: a 3 s window fits in most,
    # and no window spans two of them.
    card3 = str(build_model_double(tmp_path, window_s=3.0))
    folder = tx300_files[0].parent.parent
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{folder}", "--model", card3, "--out", "-")
    assert rc == 0
    preds, s = check_run(lines)
    assert not s["simulated_gaze"] and s["samples"] > 3000
    assert all(0 < p["eye_valid_fraction"] <= 1 for p in preds)
    assert s["windows_skipped"]["eye_stream_break"] > 0
    breaks = [e for e in s["events"] if e["kind"] == "stream_break"]
    assert breaks and all(not (p["t_s"] - p["window_s"] < (b["t_ns"] / 1e9) <= p["t_s"]) for p in preds for b in breaks)


def test_single_short_gaze_file_leaves_windows_explained(capsys, card, real_video, tx300_files):
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{tx300_files[0]}", "--model", card,
                           "--duration", "9")
    assert rc == 0
    s = lines[-1]
    assert s["predictions"] == 0 and s["windows_skipped"]["eye_stream_missing"] > 0
    assert "eye_stream_missing" in s["windows_skipped_why"] and s["stopped_by"] == "duration"


def test_out_file_and_determinism(capsys, card, tmp_path, real_video):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for f in (a, b):
        rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", "none", "--model", card, "--out", str(f),
                               "--duration", "9")
        assert rc == 0 and len(lines) == 1 and lines[0]["type"] == "summary"  # stdout: the summary only

    def preds(f):
        return [{k: v for k, v in json.loads(x).items() if k not in ("latency_ms", "inference_ms")}
                for x in f.read_text().splitlines() if '"prediction"' in x]

    pa = preds(a)
    assert pa and pa == preds(b)
    assert all(p["eye_valid_fraction"] == 0 for p in pa)


def test_demo_input_fast(capsys, card):
    rc, lines, _ = run_cli(capsys, "--demo", "--fast", "--duration", "9", "--model", card)
    assert rc == 0
    s = lines[-1]
    assert s["demo_input"] and s["simulated_gaze"] and s["predictions"] > 0
    assert all(d["demo_input"] for d in lines[:-1])


@pytest.mark.parametrize("argv, needle", [
    (["--camera", "7"], "camera"),
    (["--video", "{tmp}/not_a_video.mp4"], "not_a_video.mp4"),
    (["--video", "{tmp}/missing.mp4"], "missing.mp4"),
    (["--demo", "--gaze", "laser"], "unknown gaze source"),
    (["--demo", "--gaze", "simulated:joy"], "unknown emotion"),
    (["--demo", "--gaze", "tsv:{tmp}/nothing.tsv"], "nothing.tsv"),
    (["--demo", "--model", "{tmp}/truncated.card.json"], "truncated"),
])
def test_bad_input_gets_one_clear_message(capsys, tmp_path, argv, needle):
    (tmp_path / "not_a_video.mp4").write_text("this is text, not a video\n")
    build_model_double(tmp_path, name="truncated")
    fusion = tmp_path / "truncated.fusion.onnx"
    fusion.write_bytes(fusion.read_bytes()[:100])
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--model" not in argv:
        argv += ["--model", str(build_model_double(tmp_path / "ok", name="ok"))]
    rc, lines, err = run_cli(capsys, *argv, "--duration", "1")
    assert rc == 2, err
    assert needle in err and "Traceback" not in err
    assert err.startswith("emer-live:")


def test_backward_timestamps_in_a_gaze_file_do_not_stop_the_run(capsys, card, real_video, tx300_files, tmp_path):
    rows = tx300_files[1].read_text().splitlines()
    header, body = rows[0], rows[1:]
    body[200], body[201] = body[201], body[200]  # one timestamp goes backwards
    body.insert(300, body[299])  # one repeats
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join([header, *body]) + "\n")
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{bad}", "--model", card, "--duration", "5")
    assert rc == 0
    s = lines[-1]
    invalid = s["gaze_source"]["stats"]["invalid"]
    assert invalid >= 2 and s["drops"]["gaze_source_invalid"]["count"] == invalid
    assert any(e["kind"] == "warning" for e in s["events"])


def test_realtime_demo_run(capsys, tmp_path):
    card = str(build_model_double(tmp_path, window_s=1.0))
    rc, lines, _ = run_cli(capsys, "--demo", "--duration", "3", "--model", card)  # the demo runs live by default
    assert rc == 0
    preds, s = check_run(lines)
    assert s["mode"] == "realtime" and s["stopped_by"] == "duration" and s["demo_input"]
    assert s["latency_p95_ms"] >= s["latency_p50_ms"] > 0
    assert all(p["latency_ms"] >= p["inference_ms"] for p in preds)


def _spans(lines):
    """(start_s, end_s) of each gaze recording played, from the stream-break events."""
    s = lines[-1]
    starts = [0.0] + [e["t_ns"] / 1e9 for e in s["events"] if e["kind"] == "stream_break"]
    return starts


@pytest.mark.parametrize("tool", ["pro-lab", "studio"])
def test_tobii_exports_with_several_participants(capsys, real_video, tx300_files, tmp_path, tool):
    card3 = str(build_model_double(tmp_path, window_s=3.0))
    by = {f"{p.parent.name[-1]}/{p.stem}": p for p in tx300_files}
    people = [("01", "1/2"), ("02", "2/1"), ("03", "2/5")]
    if tool == "pro-lab":
        rows = sum((tx.pro_lab_rows(tx.tx300(by[k]), who, f"Recording {who}", tx.PRO_LAB_NEW) for who, k in people), [])
        path = tx.write(tmp_path / "export.tsv", tx.PRO_LAB_NEW, rows)
    else:
        rows = sum((tx.studio_rows(tx.tx300(by[k]), who, f"Rec {who}") for who, k in people), [])
        path = tx.write(tmp_path / "export.csv", tx.STUDIO, rows, delimiter=",")
    # One participant selected.
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{path}#participant=02", "--model", card3)
    assert rc == 0
    preds, s = check_run(lines)
    assert [r["participant"] for r in s["gaze_source"]["recordings"]] == ["02"]
    # Only the selected 4 s recording played (windows use gaze up to 1 s old, then stop).
    assert max(p["t_s"] for p in preds) <= 5.1
    # All in sequence: predictions from each recording, none from a window spanning two.
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{path}", "--model", card3)
    assert rc == 0
    preds, s = check_run(lines)
    starts = _spans(lines)
    assert len(starts) == 3
    for k, a in enumerate(starts):
        b = starts[k + 1] if k + 1 < len(starts) else float("inf")
        inside = [p for p in preds if a + p["window_s"] <= p["t_s"] + 1e-6 and p["t_s"] < b]
        assert inside, f"no prediction from recording {k + 1}"
    assert all(any(a + p["window_s"] <= p["t_s"] + 1e-6 for a in starts if a < p["t_s"]) for p in preds)


def test_recorded_run_on_several_recordings_replays_the_same(capsys, real_video, tx300_files, tmp_path):
    """Stream breaks are recorded and replayed, so a replay builds the same windows (none across a
    break) and the display geometry given on the command line is the one replay uses."""
    card3 = str(build_model_double(tmp_path, window_s=3.0))
    by = {f"{p.parent.name[-1]}/{p.stem}": p for p in tx300_files}
    rows = sum((tx.studio_rows(tx.tx300(by[k]), who, f"Rec {who}") for who, k in (("01", "1/2"), ("02", "2/1"))), [])
    path = tx.write(tmp_path / "export.csv", tx.STUDIO, rows, delimiter=",")
    rc, lines, _ = run_cli(capsys, "--video", str(real_video), "--gaze", f"tsv:{path}", "--model", card3, "--duration", "9",
                           "--record", str(tmp_path / "rec"), "--participant", "P01", "--consent",
                           "--screen-mm", "509", "286", "--viewing-distance-mm", "650")
    assert rc == 0
    live = [p for p in lines if p["type"] == "prediction"]
    assert live and lines[-1]["windows_skipped"]["eye_stream_break"] > 0
    folder = next((tmp_path / "rec").iterdir())
    assert cli.main(["replay", str(folder), "--fast", "--headless", "--model", card3]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    summary = out[-1]["summary"]
    assert summary["vs_recorded"]["matched_windows"] == len(live) == len(out) - 1
    assert summary["vs_recorded"]["max_abs_diff"] < 1e-4
