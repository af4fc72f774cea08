from emer_live.window_model.text import disagreement_label, gap_headline, input_banner, status_texts, window_headline
from tests.ui.doubles import head


def test_headline_smile_on_face_sadness_in_eyes():
    assert gap_headline(head("sadness"), head("happiness")) == "Smile on the face, sadness in the eyes"


def test_headlines_for_the_other_cases():
    assert gap_headline(head("happiness"), head("anger")) == "An angry face, but happiness in the eyes"
    assert gap_headline(head("fear"), head("neutral")) == "A poker face hiding fear"
    assert gap_headline(head("neutral"), head("surprise")) == "A surprised face, calm eyes"
    assert gap_headline(head("sadness"), head("sadness")) == "Face and eyes agree: sadness"
    assert gap_headline(head("fear"), head("anger")) == "The face shows anger, the eyes fear"


def test_an_unclear_er_reading_claims_no_gap():
    assert (gap_headline(head("happiness", conf=0.30), head("sadness"))
            == "The face shows sadness; the eyes' reading is unclear (no class above 40%)")
    assert gap_headline(head("happiness", conf=0.45), head("sadness")) == "A sad face, but happiness in the eyes"


def test_window_headline_says_when_the_face_has_changed_since():
    er, fer = head("fear"), head("sadness")
    assert window_headline(er, fer, 8.0, "sadness") == window_headline(er, fer, 8.0) == gap_headline(er, fer)
    assert (window_headline(er, fer, 8.0, "happiness")
            == "Last 8 s: the face shows sadness, the eyes fear (the face now shows happiness)")


def test_disagreement_label_names_face_and_eyes():
    assert disagreement_label(head("sadness"), head("happiness")) == "face: happiness / eyes: sadness"


def test_status_texts_and_busy_model():
    stats = {"camera_fps": 29.76, "gaze_hz": 119.6, "gaze_dropped": 4, "latency_p50_ms": 41.2,
             "latency_p95_ms": 80.0, "inference_ms": 2.34, "provider": "CUDAExecutionProvider",
             "model_name": "emert-demo", "model_provenance": "demo model"}
    t = status_texts(stats)
    assert t["camera"] == "camera 29.8 fps"
    assert t["gaze"] == "gaze 120 Hz · dropped 4"
    assert t["provider"] == "CUDA"
    assert t["model"] == "emert-demo (demo model)"
    assert "41" in t["latency"]
    assert status_texts(stats, model_busy_s=3.2)["latency"] == "model busy for 3.2 s"
    assert status_texts({})["camera"] == "camera – fps"


def test_banner_says_demo_and_simulated_plainly():
    assert "DEMO INPUT" in input_banner({"demo_input": True, "simulated_gaze": True})
    assert "SIMULATED GAZE" in input_banner({"demo_input": False, "simulated_gaze": True})
    assert input_banner({"demo_input": False, "simulated_gaze": False}) == ""


def test_a_model_without_fer_claims_no_gap():
    from emer_live.window_model.text import no_fer_headline

    assert no_fer_headline(head("sadness")) == "This model reads no FER, so no gap is claimed; the eyes show sadness"
    assert no_fer_headline(head("sadness", conf=0.3)).startswith("This model reads no FER; the eyes' reading is unclear")
