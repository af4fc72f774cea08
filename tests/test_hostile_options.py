"""Bad command-line input and hostile label tables: every one ends with exit 2 and one clear line
naming the option, file or line and the problem (never a traceback), and changes nothing on disk."""

from __future__ import annotations

import json
import os
import stat

import pytest

from emer_live.recording import layout as L
from hostile_cases import cli, copy, digest, record_session


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    from model_doubles import build_model_double

    return build_model_double(tmp_path_factory.mktemp("model"), window_s=1.0)


@pytest.fixture(scope="module")
def base(tmp_path_factory, real_video, card):
    return record_session(tmp_path_factory.mktemp("base") / "session", real_video, card)


def _run(*extra):
    return ("run", "--headless", "--demo", "--fast", *extra)


# argparse refuses these before anything is loaded: (argv, words in stderr)
OPTIONS = [
    (_run("--update-hz", "nan"), "--update-hz"), (_run("--update-hz", "inf"), "--update-hz"),
    (_run("--update-hz", "-1"), "--update-hz"), (_run("--update-hz", "0"), "--update-hz"),
    (_run("--update-hz", "1e999"), "--update-hz"), (_run("--update-hz", "ten"), "--update-hz"),
    (_run("--duration", "nan"), "--duration"), (_run("--duration", "inf"), "--duration"),
    (_run("--duration", "-3"), "--duration"), (_run("--duration", "0"), "--duration"),
    (_run("--fer-smoothing", "nan"), "--fer-smoothing"), (_run("--fer-smoothing", "inf"), "--fer-smoothing"),
    (_run("--fer-smoothing", "-0.5"), "--fer-smoothing"),
    (_run("--min-face-frames", "0"), "--min-face-frames"), (_run("--min-face-frames", "9"), "--min-face-frames"),
    (_run("--min-face-frames", "4.5"), "--min-face-frames"), (_run("--max-faces", "0"), "--max-faces"),
    (("run", "--headless", "--camera", "-1"), "--camera"), (("run", "--headless", "--camera", "nan"), "--camera"),
    (("faces", "cache", "x", "--out", "y", "--frames", "0"), "--frames"),
    (("faces", "cache", "x", "--out", "y", "--frames", "-4"), "--frames"),
    (("faces", "cache", "x", "--out", "y", "--frames", "nan"), "--frames"),
    (("faces", "cache", "x", "--out", "y", "--workers", "0"), "--workers"),
    (("replay", "s", "--update-hz", "inf"), "--update-hz"), (("replay", "s", "--update-hz", "nan"), "--update-hz"),
    (("labels", "import", "s", "f", "--duration", "nan"), "--duration"),
    (("labels", "import", "s", "f", "--duration", "-1"), "--duration"),
    (("bench", "--seconds", "nan"), "--seconds"), (("bench", "--fps", "inf"), "--fps"),
    (("bench", "--stage-frames", "0"), "--stage-frames"), (("devices", "--max-camera", "-2"), "--max-camera"),
    (("app", "--after", "nan"), "--after"), (("app", "--camera", "-1"), "--camera"),
]


@pytest.mark.parametrize("argv, words", OPTIONS, ids=[" ".join(a[1:]) for a, _ in OPTIONS])
def test_bad_option_values_exit_2_naming_the_option(argv, words):
    rc, out, err = cli(*argv)
    assert rc == 2 and words in err and "Traceback" not in err, err


def test_run_geometry_nan_and_inf_are_refused(card, real_video):
    for extra in (("--screen-mm", "nan", "300"), ("--screen-mm", "500", "inf"), ("--viewing-distance-mm", "inf")):
        rc, out, err = cli("run", "--headless", "--video", real_video, "--gaze", "simulated", "--model", card,
                           "--duration", "0.5", *extra)
        assert rc == 2 and extra[0] in err, err


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe{\x00\"\x00", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (None, "cannot be read"),
])
def test_gaze_columns_file_that_cannot_be_used(tmp_path, card, real_video, content, words):
    mapping = tmp_path / "map.json"
    if content is not None:
        mapping.write_bytes(content)
    tsv = tmp_path / "g.tsv"
    tsv.write_text("a\tb\n1\t2\n")
    rc, out, err = cli("run", "--headless", "--video", real_video, "--gaze", f"tsv:{tsv}", "--gaze-columns", mapping,
                       "--model", card, "--duration", "0.5")
    assert rc == 2 and words in err and "Traceback" not in err, err


@pytest.mark.parametrize("content", [b"\xff\xfe", b"{", b'{"labels": 5}', b'{"labels": ["ok", "bad\\u0000"]}'])
def test_markers_file_that_cannot_be_used(tmp_path, card, real_video, content):
    markers = tmp_path / "markers.json"
    markers.write_bytes(content)
    rc, out, err = cli("run", "--headless", "--video", real_video, "--gaze", "simulated", "--model", card,
                       "--duration", "0.5", "--record", tmp_path / "rec", "--participant", "P1", "--consent",
                       "--markers", markers)
    assert rc == 2 and "arker" in err, err
    assert not any((tmp_path / "rec").glob("*/*")) if (tmp_path / "rec").exists() else True


@pytest.mark.parametrize("where", ["out_in_missing_folder", "record_into_file"])
def test_unwritable_destinations(tmp_path, card, real_video, where):
    plain = tmp_path / "plain"
    plain.write_text("x")
    extra = (("--out", tmp_path / "no" / "such" / "out.jsonl") if where == "out_in_missing_folder" else
             ("--record", plain, "--participant", "P1", "--consent"))
    rc, out, err = cli("run", "--headless", "--video", real_video, "--gaze", "simulated", "--model", card,
                       "--duration", "0.5", *extra)
    assert rc == 2 and "Traceback" not in err and err.strip(), err


@pytest.mark.parametrize("what", ["missing", "a_file", "empty_folder"])
def test_session_argument_that_is_not_a_session(tmp_path, what):
    target = tmp_path / "x"
    if what == "a_file":
        target.write_text("hello")
    elif what == "empty_folder":
        target.mkdir()
    for argv in (("replay", target, "--headless", "--fast"), ("export", target, "--out", tmp_path / "o"),
                 ("annotate", target, "status"), ("labels", "check", target, target)):
        rc, out, err = cli(*argv)
        assert rc == 2 and "Traceback" not in err and err.strip(), (argv, err)


# --- label tables ---------------------------------------------------------------------------

LABEL_TABLES = {
    "start_1e308": ("start,end,emotion\n1e308,2e308,fear\n", "line 2"),  # as session seconds: --time session
    "start_inf": ("start,end,emotion\ninf,1,fear\n", "line 2"),
    "start_nan": ("start,end,emotion\nnan,1,fear\n", "line 2"),
    "duration_1e308": ("start,duration,emotion\n0.5,1e308,fear\n", "line 2"),
    "wall_clock_1e300": ("start,end,emotion\n2026-01-01T00:00:00Z,1e300,fear\n", "line 2"),
    "rating_nan": ("start,end,valence\n0.5,1.5,nan\n", "line 2"),
    "rating_inf": ("start,end,valence\n0.5,1.5,inf\n", "line 2"),
    # not UTF-8: read as Windows-1252, as Excel writes it, so the cell comes back as 'féar' and is named
    "not_utf8": (b"start,end,emotion\n0.5,1.5,f\xe9ar\n", "line 2, column emotion: unknown emotion 'f\u00e9ar'"),
    "nul_byte": ("start,end,emotion\n0.5,1.5,fe\x00ar\n", "line"),
    "huge_cell": ("start,end,emotion\n0.5,1.5,\"" + "x" * 200_000 + "\"\n", "line"),
    "end_before_start": ("start,end,emotion\n1.5,0.5,fear\n", "line 2"),
    "unknown_emotion": ("start,end,emotion\n0.5,1.5,=cmd|' /C calc'!A0\n", "unknown emotion"),
    "only_header": ("start,end,emotion\n", "no labelled segment"),
    "empty": ("", "empty"),
}


@pytest.mark.parametrize("case", sorted(LABEL_TABLES))
def test_hostile_label_tables(base, tmp_path, case):
    folder = copy(base, tmp_path / "s")
    text, words = LABEL_TABLES[case]
    table = tmp_path / "labels_in.csv"
    table.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = digest(folder)
    # the session was recorded from a file run as fast as possible: wall-clock cells need its
    # wall-clock start (--wall-start session), and huge numbers are session seconds only when said
    extra = {"start_1e308": ["--time", "session"], "wall_clock_1e300": ["--wall-start", "session"]}.get(case, [])
    for action in ("check", "import"):
        rc, out, err = cli("labels", action, folder, table, "--replace", *extra)
        assert rc == 2 and words in err and "Traceback" not in err, err
    assert digest(folder) == before


@pytest.mark.parametrize("option", [("--scale", "nan,9"), ("--scale", "9,1"), ("--scale", "1,inf"),
                                    ("--sync", "go=inf"), ("--sync", "go=nan")])
def test_label_options_refused(base, tmp_path, option):
    table = tmp_path / "t.csv"
    table.write_text("start,end,valence\n0.5,1.5,5\n")
    rc, out, err = cli("labels", "check", base, table, *option)
    assert rc == 2 and option[0] in err, err


def test_import_into_a_read_only_session_changes_nothing(base, tmp_path):
    folder = copy(base, tmp_path / "s")
    table = tmp_path / "t.csv"
    table.write_text("start,end,emotion\n0.5,1.5,happiness\n")
    before = digest(folder)
    mode = folder.stat().st_mode
    os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore folder permissions")
        rc, out, err = cli("labels", "import", folder, table, "--replace")
    finally:
        os.chmod(folder, mode)
    assert rc == 2 and "cannot write the labels" in err and "Traceback" not in err, err
    assert digest(folder) == before


def test_typed_text_comes_back_exactly_or_is_refused(tmp_path):
    from emer_live.errors import RecordingError
    from emer_live.recording.session import RecordingSession
    from emer_live.recording.session_reader import SessionReader

    s = RecordingSession(tmp_path / "s", "P-07.x", consent=True, notes="ünïcödé, \"q\"\n\ttab =1+2 \U0001F600")
    kept = ["=1+2", "a,b", "say \"hi\"", "ünïcödé", "emoji \U0001F600", "-5", "@sum", "'quoted'"]
    for i, label in enumerate(kept):
        s.add_marker(label, host_ns=1_000 + i)
    for bad in ["", "  ", " lead", "trail ", "two\nlines", "nul\x00", "bell\x07", "x" * 201]:
        with pytest.raises(RecordingError):
            s.add_marker(bad)
    s.close()
    r = SessionReader(tmp_path / "s")
    assert [m["label"] for m in r.markers()] == kept
    assert r.meta["notes"] == "ünïcödé, \"q\"\n\ttab =1+2 \U0001F600" and r.meta["participant"] == "P-07.x"
    for bad in ("../x", "a/b", "", "x" * 65, "P 1"):
        with pytest.raises(RecordingError):
            RecordingSession(tmp_path / "t", bad, consent=True)


def test_import_onto_a_read_only_file_system_changes_nothing(base, tmp_path, monkeypatch):
    """As above where permissions cannot be taken away (root): the file system refuses every write."""
    import errno

    from emer_live.recording.filelayer import FileLayer

    def refuse(self, path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    folder = copy(base, tmp_path / "s")
    table = tmp_path / "t.csv"
    table.write_text("start,end,emotion\n0.5,1.5,happiness\n")
    before = digest(folder)
    monkeypatch.setattr(FileLayer, "replace_atomic", refuse)
    rc, out, err = cli("labels", "import", folder, table, "--replace")
    assert rc == 2 and "cannot write the labels" in err and "Read-only file system" in err, err
    assert digest(folder) == before
