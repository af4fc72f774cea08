"""Sessions dataset over sessions written by the app's own recorder (one sample per labelled segment)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from emer_live.errors import EmerError
from emer_live.recording.layout import LABELS_CSV, LabelledSegment
from emer_live.recording.session import RecordingSession
from emer_live.sources.simulated_gaze import simulate_raw
from emer_live.types import Frame, GazeSample
from training.data.sessions import SessionsDataset

S = 1_000_000_000


def _record(folder, participant, segments, seed):
    """segments: (start_s, end_s, genuine emotion, displayed expression or None, with_crops)."""
    rs = RecordingSession(folder, participant, consent=True, block_when_full=True)
    rng = np.random.default_rng(seed)
    t0 = 10 * S
    end_s = max(s[1] for s in segments)
    for k, (a, b, genuine, _, _) in enumerate(segments):
        t, raw = simulate_raw(genuine, b - a, 60, rng, t0_ns=t0 + a * S)
        for tn, v in zip(t, raw):
            rs.sink.on_gaze(GazeSample(host_ns=int(tn), values=v))
    for i in range(int(end_s * 5)):  # 5 fps
        t = t0 + i * S // 5
        rs.sink.on_frame(Frame(host_ns=t, index=i, image=np.zeros((48, 64, 3), np.uint8)))
        seg = next((s for s in segments if s[0] * S <= t - t0 < s[1] * S), None)
        if seg is not None and seg[4]:
            crop = np.full((112, 112, 3), (i * 7) % 255, np.uint8)
            rs.sink.on_face_crop(i, t, crop)
    for a, b, genuine, shown, _ in segments:
        rs.add_self_assessment(3, 6, genuine, start_ns=t0 + a * S, end_ns=t0 + b * S)
    rs.close()
    # FER labels as annotation writes them: labels.csv rewritten with both label kinds
    rows = []
    for a, b, genuine, shown, _ in segments:
        seg = LabelledSegment(start_ns=t0 + a * S, end_ns=t0 + b * S, er7=genuine, fer7=shown,
                              er_va=np.array([-0.5, 0.5]), source="test")
        rows.append(",".join(str(x) for x in seg.as_row()))
    header = (folder / LABELS_CSV).read_text().splitlines()[0]
    (folder / LABELS_CSV).write_text(header + "\n" + "\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    a = _record(root / "s1", "P01", [(0, 4, "sadness", "happiness", True), (4, 8, "happiness", "happiness", True)], 1)
    b = _record(root / "s2", "P02", [(0, 4, "fear", "neutral", True), (4, 6, "anger", None, False)], 2)
    return [a, b]


def test_one_sample_per_usable_segment(sessions):
    ds = SessionsDataset(sessions)
    assert len(ds) == 3  # the segment without face crops is skipped, and said so
    assert len(ds.skipped) == 1 and "no face crop" in ds.skipped[0]
    assert ds.targets["er7"].tolist() == [1, 0, 2]
    assert ds.targets["fer7"].tolist() == [0, 0, 6]
    assert ds.masked.tolist() == [True, False, True]
    assert ds.participants.tolist() == [0, 0, 1]
    item = ds[0]
    assert tuple(item["face"].shape) == (8, 3, 112, 112)
    assert tuple(item["eye"].shape) == (32, 39) and not item["eye"].isnan().any()
    # the 8 crops are spread over the segment (each crop has its own grey level)
    assert len({round(float(v), 4) for v in item["face"][:, 0, 0, 0]}) == 8
    assert ds.eye[:, :, 0].std() > 0
    assert ds.provenance["kind"] == "sessions"


def test_session_errors(tmp_path, sessions):
    with pytest.raises(EmerError, match="does not exist"):
        SessionsDataset([tmp_path / "none"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmerError, match="not a recorded session"):
        SessionsDataset([tmp_path / "empty"])


def test_crop_recipe_comes_from_the_sessions_and_must_agree(tmp_path, sessions):
    """Sessions recorded without a model card have the legacy crop; a model trained on them is
    exported with that recipe, and sessions cut with different recipes cannot be mixed."""
    import json
    import shutil

    from emer_live.features.face_crop import FER2013_RECIPE, LEGACY_RECIPE

    assert SessionsDataset(sessions).crop_recipe == LEGACY_RECIPE
    other = tmp_path / "s3"
    shutil.copytree(sessions[0], other)
    meta = json.loads((other / "session.json").read_text())
    meta["face_crops"]["recipe"] = FER2013_RECIPE.to_card()
    (other / "session.json").write_text(json.dumps(meta))
    assert SessionsDataset([other]).crop_recipe == FER2013_RECIPE
    with pytest.raises(EmerError, match="different crop recipe"):
        SessionsDataset([sessions[0], other])


def test_windows_the_app_refuses_are_refused_and_counted(tmp_path):
    """Trial files joined in one session: a segment across the break between two gaze recordings, and
    one whose gaze is mostly missing, are not trained on (the app makes no window of either); the counts
    go into the provenance, which the exported card keeps."""
    from emer_live.types import SourceEvent

    folder = _record(tmp_path / "t", "P03", [(0, 4, "sadness", None, True), (4, 8, "fear", None, True),
                                             (8, 12, "happiness", None, True)], 3)
    t0 = 10 * S
    # a second recording starts at 6 s (inside the second segment): the recorder logs a stream break
    with open(folder / "events.jsonl", "a") as f:
        import json

        f.write(json.dumps({"host_ns": t0 + 6 * S, "source": "tobii", "kind": "stream_break",
                            "message": "trial 2 starts", "data": {}}) + "\n")
    # the third segment's gaze: about 85 % of it lost (the tracker's validity flags 0)
    lines = (folder / "gaze.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    flags = [i for i, name in enumerate(header.split(",")) if name.endswith("validity")]
    out = [header]
    for k, r in enumerate(rows):
        cells = r.split(",")
        if int(cells[0]) >= t0 + 8 * S and k % 100 < 92:  # 1.5 s losses: too long for blinks
            cells = [("0.0" if i in flags else c) for i, c in enumerate(cells)]
        out.append(",".join(cells))
    (folder / "gaze.csv").write_text("\n".join(out) + "\n")
    # what the player recorded of its trial seams (emer_live/sources/trial_joins.py) reaches the card
    meta = json.loads((folder / "session.json").read_text())
    meta["devices"]["gaze_source"] = {"trials": {"joined": 2, "breaks": 1, "seams": []}}
    (folder / "session.json").write_text(json.dumps(meta))
    ds = SessionsDataset([folder])
    assert ds.provenance["gaze_trials"] == [{"joined": 2, "breaks": 1}]
    assert ds.targets["er7"].tolist() == [1]  # only the sad segment is usable
    assert ds.provenance["refused_windows"]["counts"] == {"eye_stream_break": 1, "eye_invalid": 1}
    assert any("spans a break" in s for s in ds.skipped) and any("the app refuses below 20%" in s for s in ds.skipped)
