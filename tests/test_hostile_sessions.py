"""A session folder is untrusted input (sessions travel between labs). Every way of spoiling one
here must end in a clear message (rc 2) or a warning naming the file and the problem (rc 0), never
a traceback; nothing outside the folder is read or written, and nothing in it changes.

Each case spoils a copy of one small real session (the real video through the real face stage,
simulated gaze) and runs replay and export on it, in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from emer_live.recording import layout as L
from hostile_cases import bait, cli, copy, digest, record_session, untouched

CASES_RUN = []  # (case, command) pairs tried, counted in the report of the suite


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    from model_doubles import build_model_double

    from emer_live.labels import EMOTIONS_7

    face = {"crop_size": 112, "color": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "embedding_dim": 7,
            "expression": {"output": "face_embedding", "activation": "softmax", "classes": list(EMOTIONS_7)}}
    return build_model_double(tmp_path_factory.mktemp("model"), window_s=1.0, card_overrides={"face": face})


@pytest.fixture(scope="module")
def base(tmp_path_factory, real_video, card):
    return record_session(tmp_path_factory.mktemp("base") / "session", real_video, card)


@pytest.fixture()
def spoil(base, tmp_path):
    """A fresh copy of the base session, and a secret file beside it that no command may reach."""
    return copy(base, tmp_path / "work" / "session"), bait(tmp_path / "outside")


def _meta_edit(text_change):
    def apply(folder, secret):
        p = folder / L.SESSION_JSON
        p.write_text(text_change(p.read_text()))
    return apply


def _meta(change):
    def apply(folder, secret):
        p = folder / L.SESSION_JSON
        m = json.loads(p.read_text())
        change(m)
        p.write_text(json.dumps(m))
    return apply


def _set(path_keys, value):
    def change(m):
        d = m
        for k in path_keys[:-1]:
            d = d.setdefault(k, {})
        d[path_keys[-1]] = value
    return _meta(change)


def _replace_link(name, target_of):
    def apply(folder, secret):
        p = folder / name
        if p.is_dir() and not p.is_symlink():
            import shutil
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
        p.symlink_to(target_of(folder, secret))
    return apply


def _fifo(name):
    def apply(folder, secret):
        (folder / name).unlink()
        os.mkfifo(folder / name)
    return apply


def _cell(name, column, value, row=3):
    """Set one cell of a CSV table (data row `row`, 1-based) to a raw string."""
    def apply(folder, secret):
        lines = (folder / name).read_text().splitlines(keepends=True)
        cells = lines[row].rstrip("\n").split(",")
        cells[L.CSV_HEADERS[name].index(column)] = value
        lines[row] = ",".join(cells) + "\n"
        (folder / name).write_text("".join(lines))
    return apply


def _every_row(name, column, value):
    def apply(folder, secret):
        lines = (folder / name).read_text().splitlines(keepends=True)
        i = L.CSV_HEADERS[name].index(column)
        for k in range(1, len(lines)):
            cells = lines[k].rstrip("\n").split(",")
            cells[i] = value(folder, secret) if callable(value) else value
            lines[k] = ",".join(cells) + "\n"
        (folder / name).write_text("".join(lines))
    return apply


def _prediction_field(key, value):
    def apply(folder, secret):
        p = folder / L.PREDICTIONS_JSONL
        lines = p.read_text().splitlines()
        d = json.loads(lines[1])
        d[key] = value
        lines[1] = json.dumps(d)
        p.write_text("\n".join(lines) + "\n")
    return apply


def _write(name, data: bytes):
    def apply(folder, secret):
        (folder / name).write_bytes(data)
    return apply


def _corrupt_crops(folder, secret):
    for p in (folder / L.FACE_CROPS_DIR).iterdir():
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)


def _zero_video(folder, secret):
    for p in (folder / L.VIDEO_DIR).iterdir():
        p.write_bytes(b"\x00" * p.stat().st_size)


def _garbage_gaze(folder, secret):
    rng = np.random.default_rng(0)
    text = "".join(chr(c) for c in rng.integers(32, 127, 200_000))
    (folder / L.GAZE_CSV).write_text(",".join(L.GAZE_COLUMNS) + "\n" + "\n".join(
        text[i:i + 120] for i in range(0, len(text), 120)) + "\n")


def _outside_video(folder, secret):
    """The video file moved outside the session and linked back: frames.csv is unchanged."""
    (video,) = (folder / L.VIDEO_DIR).iterdir()
    moved = secret.parent / video.name
    video.rename(moved)
    video.symlink_to(moved)


def _fifo_card_path(folder, secret):
    """model.source_path names a FIFO called like a card: hashing it would block forever."""
    fifo = secret.parent / "model.card.json"
    os.mkfifo(fifo)
    _set(("model", "source_path"), str(fifo))(folder, secret)


# case id -> (spoil, replay rc, words in replay's stderr, export rc, words in export's stderr)
M, G = "pipeline.update_hz", "symbolic link"
CASES = {
    "meta_update_hz_infinity": (_meta_edit(lambda t: t.replace('"update_hz": 5.0', '"update_hz": Infinity')), 2, M, 2, M),
    "meta_update_hz_text": (_set(("pipeline", "update_hz"), "fast"), 2, M, 2, M),
    "meta_update_hz_negative": (_set(("pipeline", "update_hz"), -5), 2, M, 2, M),
    "meta_fer_smoothing_nan": (_meta_edit(lambda t: t.replace('"use_eye": true', '"use_eye": true, "fer_smoothing_s": NaN')),
                               2, "pipeline.fer_smoothing_s", 2, "pipeline.fer_smoothing_s"),
    "meta_eye_geometry_text": (_set(("pipeline", "eye_geometry"), {"viewing_distance_mm": "far"}), 2,
                               "eye_geometry.viewing_distance_mm", 2, "eye_geometry.viewing_distance_mm"),
    "meta_eye_geometry_list": (_set(("pipeline", "eye_geometry"), [1, 2]), 2, "eye_geometry", 2, "eye_geometry"),
    "meta_model_source_path_5": (_set(("model", "source_path"), 5), 2, "model.source_path", 2, "model.source_path"),
    "meta_use_eye_text": (_set(("pipeline", "use_eye"), "yes"), 2, "pipeline.use_eye", 2, "pipeline.use_eye"),
    "meta_fer_box_unknown": (_set(("pipeline", "fer_box"), "../x"), 2, "pipeline.fer_box", 2, "pipeline.fer_box"),
    "meta_started_beyond_int64": (_set(("started_host_ns",), 2**70), 2, "started_host_ns", 2, "started_host_ns"),
    "meta_started_float": (_set(("started_host_ns",), 1e30), 2, "started_host_ns", 2, "started_host_ns"),
    "meta_closed_text": (_set(("closed",), "yes"), 2, "closed", 2, "closed"),
    "meta_frame_fer_source_number": (_set(("frame_fer", "source"), 7), 2, "frame_fer.source", 2, "frame_fer.source"),
    "meta_not_utf8": (_write(L.SESSION_JSON, b'{"schema": "\xff\xfe"}'), 2, "not UTF-8", 2, "not UTF-8"),
    "meta_empty": (_write(L.SESSION_JSON, b""), 2, "not valid JSON", 2, "not valid JSON"),
    "meta_deeply_nested": (_write(L.SESSION_JSON, b"[" * 100_000 + b"]" * 100_000), 2, "session.json", 2, "session.json"),
    "meta_link_outside": (_replace_link(L.SESSION_JSON, lambda f, s: s), 2, G, 2, G),
    "meta_is_folder": (lambda f, s: ((f / L.SESSION_JSON).unlink(), (f / L.SESSION_JSON).mkdir()), 2,
                       "not a recorded session", 2, "not a recorded session"),
    "frames_negative_byte_offset": (_cell(L.FRAMES_CSV, "byte_offset", "-100"), 0, "byte_offset -100", 0,
                                    "byte_offset -100"),
    "frames_offset_beyond_int64": (_cell(L.FRAMES_CSV, "byte_offset", str(2**64)), 0, "out of range", 0, "out of range"),
    "frames_length_huge": (_cell(L.FRAMES_CSV, "byte_length", str(2**62)), 0, "", 0, ""),
    "frames_host_ns_beyond_int64": (_cell(L.FRAMES_CSV, "host_ns", "9" * 30), 0, "frames.csv line 4", 0,
                                    "frames.csv line 4"),
    "frames_index_text": (_cell(L.FRAMES_CSV, "frame_index", "seven"), 0, "frames.csv line 4", 0, "frames.csv line 4"),
    "frames_path_traversal": (_every_row(L.FRAMES_CSV, "video_file", "../../outside/secret.csv"), 2, "points outside",
                              0, "points outside"),
    "frames_absolute_path": (_every_row(L.FRAMES_CSV, "video_file", lambda f, s: str(s)), 2, "points outside",
                             0, "points outside"),
    "frames_is_fifo": (_fifo(L.FRAMES_CSV), 2, "not a plain file", 0, "not a plain file"),
    "video_linked_outside": (_outside_video, 2, G, 0, G),
    "video_all_undecodable": (_zero_video, 2, "could not be decoded", 0, ""),
    "frame_fer_text_cell": (_cell(L.FRAME_FER_CSV, "frame_index", "x7"), 0, "frame_fer.csv line 4", 0,
                            "frame_fer.csv line 4"),
    "frame_fer_n_faces_text": (_cell(L.FRAME_FER_CSV, "n_faces", "two"), 0, "frame_fer.csv line 4", 0,
                               "frame_fer.csv line 4"),
    "prediction_end_late": (_prediction_field("window_end_ns", "late"), 0, "window_end_ns 'late'", 0,
                            "window_end_ns 'late'"),
    "prediction_end_huge": (_prediction_field("window_end_ns", 2**80), 0, "window_end_ns", 0, "window_end_ns"),
    "prediction_nested_deep": (lambda f, s: open(f / L.PREDICTIONS_JSONL, "a").write("[" * 50_000 + "]" * 50_000 + "\n"),
                               0, "predictions.jsonl", 0, "predictions.jsonl"),
    "gaze_garbage_200kb": (_garbage_gaze, 2, "gaze.csv is unreadable", 0, "gaze.csv line"),
    "gaze_link_outside": (_replace_link(L.GAZE_CSV, lambda f, s: s), 2, G, 0, G),
    "gaze_is_fifo": (_fifo(L.GAZE_CSV), 2, "not a plain file", 0, "not a plain file"),
    "crops_all_corrupt": (_corrupt_crops, 2, "stored face crops", 0, ""),
    "crops_folder_linked_outside": (_replace_link(L.FACE_CROPS_DIR, lambda f, s: s.parent), 2, "stored face crops", 0, ""),
    "markers_link_outside": (_replace_link(L.MARKERS_CSV, lambda f, s: s), 0, "", 0, G),
    "labels_not_utf8": (_write(L.LABELS_CSV, b"start_ns,end_ns\n\xff\xfe,\x00\n"), 0, "", 0, "labels.csv line 2"),
    "model_card_copy_linked_outside": (_replace_link(L.MODEL_CARD_COPY, lambda f, s: s), 0, "", 0, ""),
    "meta_model_source_path_dev_zero": (_set(("model", "source_path"), "/dev/zero"), 0, "", 0, ""),
    "meta_model_source_path_fifo_card": (_fifo_card_path, 0, "", 0, ""),
    "events_break_time_text": (lambda f, s: open(f / L.EVENTS_JSONL, "a").write(
        '{"kind": "stream_break", "host_ns": "soon", "source": "x"}\n'), 0, "", 0, ""),
    "frames_box_infinite": (_every_row(L.FRAMES_CSV, "box_x1", "inf"), 0, "", 0, ""),
    "frames_media_ms_nan": (_every_row(L.FRAMES_CSV, "media_ms", "nan"), 0, "", 0, ""),
    "gaze_cells_infinite": (lambda f, s: (f / L.GAZE_CSV).write_text((f / L.GAZE_CSV).read_text().replace(
        ",0.", ",1e999", 50)), 0, "", 0, ""),  # cells that parse as infinity
    "frame_fer_prob_infinite": (_cell(L.FRAME_FER_CSV, "p_anger", "inf"), 0, "", 0, ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spoilt_session(spoil, tmp_path, case, card):
    folder, secret = spoil
    apply, replay_rc, replay_words, export_rc, export_words = CASES[case]
    apply(folder, secret)
    before = digest(folder)
    rc, out, err = cli("replay", folder, "--fast", "--headless", "--quiet", "--model", card)
    CASES_RUN.append((case, "replay"))
    assert rc == replay_rc and replay_words in err, err
    assert "Traceback" not in err
    for fmt in ("csv", "parquet"):
        rc, out, err = cli("export", folder, "--format", fmt, "--out", tmp_path / fmt)
        CASES_RUN.append((case, f"export {fmt}"))
        assert rc == export_rc and export_words in err, err
        for p in (tmp_path / fmt).glob("*") if rc == 0 else ():
            assert b"outside-the-session" not in p.read_bytes(), f"{p.name} holds bytes from outside the session"
    assert untouched(secret)
    assert digest(folder) == before, "a command changed the session it only reads"


def test_damaged_crops_are_called_damaged_not_no_face(spoil, card):
    folder, secret = spoil
    _corrupt_crops(folder, secret)
    rc, out, err = cli("replay", folder, "--fast", "--headless", "--quiet", "--model", card)
    assert rc == 2 and "damaged" in err and "stored face crops" in err, err
    summary = json.loads(out.splitlines()[-1])["summary"]
    assert summary["damaged_face_crops"] > 0


def test_garbage_gaze_is_called_unreadable_not_empty(spoil, card):
    folder, secret = spoil
    _garbage_gaze(folder, secret)
    rc, out, err = cli("replay", folder, "--fast", "--headless", "--quiet", "--model", card)
    assert rc == 2 and "gaze.csv is unreadable" in err and "empty" not in err, err


def test_blurred_export_with_infinite_face_boxes(spoil, tmp_path):
    folder, secret = spoil
    _every_row(L.FRAMES_CSV, "box_x1", "inf")(folder, secret)
    rc, out, err = cli("export", folder, "--out", tmp_path / "x", "--blur-faces")
    assert rc == 0 and (tmp_path / "x" / "video.avi").stat().st_size > 0, err


def test_export_video_of_undecodable_frames_says_so(spoil, tmp_path):
    folder, secret = spoil
    _zero_video(folder, secret)
    rc, out, err = cli("export", folder, "--out", tmp_path / "x", "--video")
    assert rc == 2 and "could not be decoded" in err and "No such file" not in err, err
    assert not (tmp_path / "x" / "video.avi").exists()


def test_exported_csv_is_safe_in_a_spreadsheet_and_parquet_exact(spoil, tmp_path):
    import pandas as pd

    folder, _ = spoil
    assert cli("export", folder, "--out", tmp_path / "csv")[0] == 0
    assert cli("export", folder, "--format", "parquet", "--out", tmp_path / "pq")[0] == 0
    label = "=HYPERLINK(\"http://x\")"
    csv_markers = pd.read_csv(tmp_path / "csv" / "markers.csv", dtype=str, keep_default_na=False)
    assert "'" + label in set(csv_markers["label"]) and label not in set(csv_markers["label"])
    for p in (tmp_path / "csv").glob("*.csv"):  # no text cell anywhere starts a formula
        for col, values in pd.read_csv(p, dtype=str, keep_default_na=False).items():
            bad = [v for v in values if v[:1] in ("=", "@", "+") or (v[:1] == "-" and not _number(v))]
            assert not bad, f"{p.name} {col}: {bad[:3]}"
    pq = pd.read_parquet(tmp_path / "pq" / "markers.parquet")
    assert label in set(pq["label"]) and "clip, \"A\"" in set(pq["stimulus"])  # exact where no spreadsheet runs it
    meta = json.loads((tmp_path / "csv" / "session.json").read_text())
    assert meta["notes"] == "first, \"quoted\"\nsecond line"


def _number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def test_repair_of_a_crashed_session_never_truncates_through_a_link(spoil, card):
    folder, secret = spoil
    m = json.loads((folder / L.SESSION_JSON).read_text())
    m["closed"] = False
    (folder / L.SESSION_JSON).write_text(json.dumps(m))
    secret.write_bytes(b"a,b\n1,2\ntorn")  # what a trim would cut back
    (folder / L.GAZE_CSV).unlink()
    (folder / L.GAZE_CSV).symlink_to(secret)
    rc, _, err = cli("export", folder, "--out", folder.parent / "x")
    assert rc == 0 and "symbolic link" in err, err
    assert secret.read_bytes() == b"a,b\n1,2\ntorn"


@pytest.mark.parametrize("planted", [L.LABELS_CSV + ".tmp", "." + L.LABELS_CSV + ".tmp", "labels_import.json.tmp"])
def test_planted_temp_files_are_never_written_through(spoil, tmp_path, planted):
    folder, secret = spoil
    (folder / planted).symlink_to(secret)
    table = tmp_path / "labels.csv"
    table.write_text("start,end,emotion\n0.5,1.5,happiness\n")
    rc, out, err = cli("labels", "import", folder, table, "--replace")
    assert rc == 0, err
    assert untouched(secret) and (folder / planted).is_symlink()


def test_annotations_folder_linked_outside_is_refused(spoil, card):
    folder, secret = spoil
    (folder / L.ANNOTATIONS_DIR).symlink_to(secret.parent, target_is_directory=True)
    rc, out, err = cli("annotate", folder, "auto", "--model", card)
    assert rc == 2 and "outside the session" in err, err
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.csv"]


@pytest.mark.parametrize("name", ["../../x", "a/b", "model"])
def test_annotator_names_cannot_leave_the_folder(spoil, name):
    folder, _ = spoil
    rc, out, err = cli("annotate", folder, "review", "--annotator", name)
    assert rc == 2 and "Annotator name" in err
