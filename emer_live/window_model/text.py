"""Words the app shows: gap headlines, disagreement labels, status lines. Qt-free and pure, so
they are tested directly and shared by the main window, presentation mode and screenshots."""

from __future__ import annotations

from emer_live.labels import SEVEN_TO_THREE
from emer_live.types import HeadOutput

NOUN = {"happiness": "happiness", "sadness": "sadness", "fear": "fear", "surprise": "surprise",
        "disgust": "disgust", "anger": "anger", "neutral": "calm"}
ADJECTIVE = {"happiness": "happy", "sadness": "sad", "fear": "fearful", "surprise": "surprised",
             "disgust": "disgusted", "anger": "angry", "neutral": "neutral"}


def _a(word: str) -> str:
    return ("An " if word[0] in "aeiou" else "A ") + word


# Below this top probability the ER reading names no class for the audience: with 7 classes a top
# class at 30 % is barely ahead of the rest, and a sentence would state it as a finding.
CLEAR_ER_P = 0.4


def gap_headline(er: HeadOutput, fer: HeadOutput) -> str:
    """One line for the audience: what the face shows against what the eyes betray."""
    face7, felt7 = fer.top7, er.top7
    if float(er.probs7.max()) < CLEAR_ER_P:
        return f"The face shows {NOUN[face7]}; the eyes' reading is unclear (no class above {CLEAR_ER_P:.0%})"
    # polarity from the 7-class top label, so the words and the polarity never contradict
    face3, felt3 = SEVEN_TO_THREE[face7], SEVEN_TO_THREE[felt7]
    if face3 == "positive" and felt3 == "negative":
        return f"Smile on the face, {NOUN[felt7]} in the eyes"
    if face3 == "negative" and felt3 == "positive":
        return f"{_a(ADJECTIVE[face7])} face, but {NOUN[felt7]} in the eyes"
    if face3 == "neutral" and felt3 != "neutral":
        return f"A poker face hiding {NOUN[felt7]}"
    if face3 != "neutral" and felt3 == "neutral":
        return f"{_a(ADJECTIVE[face7])} face, calm eyes"
    if face7 == felt7:
        return f"Face and eyes agree: {NOUN[felt7]}"
    return f"The face shows {NOUN[face7]}, the eyes {NOUN[felt7]}"


NO_FER = "no FER: this model's FER head was never trained"


def reads_fer(prediction) -> bool:
    """False for a window of a model with no FER at all (no per-frame FER and an untrained FER head,
    fer_source "none"): its `fer` is that head's untrained output, never to be drawn as a reading."""
    return getattr(prediction, "fer_source", "") != "none"


def no_fer_headline(er: HeadOutput) -> str:
    """The line for a model with no FER (no per-frame FER, FER head never trained): no gap is claimed."""
    if float(er.probs7.max()) < CLEAR_ER_P:
        return f"This model reads no FER; the eyes' reading is unclear (no class above {CLEAR_ER_P:.0%})"
    return f"This model reads no FER, so no gap is claimed; the eyes show {NOUN[er.top7]}"


def window_headline(er: HeadOutput, fer: HeadOutput, window_s: float, face_now: str | None = None) -> str:
    """gap_headline of a window; when the face now shows another class than the window's FER (the
    face changed within the window), the line says it is about the window and what the face shows now,
    so a past expression never reads as the current one."""
    text = gap_headline(er, fer)
    if face_now is None or face_now == fer.top7:
        return text
    return f"Last {window_s:g} s: {text[0].lower()}{text[1:]} (the face now shows {face_now})"


def eye_effect_line(effect) -> str:
    """What the eyes did to ER, in words ('' without an eye effect)."""
    if effect is None:
        return ""
    if effect.top7 != effect.top7_without:
        return f"the eyes moved ER from {NOUN[effect.top7_without]} to {NOUN[effect.top7]}"
    return f"the eyes moved ER by {effect.jsd:.2f} (top class {NOUN[effect.top7]} either way)"


def reading_headline(prediction, face_now: str | None = None) -> str:
    """The headline of a reliable window: the gap, and what the eyes did, only where the eyes' own
    effect is beyond its threshold (Prediction.gap_claimed); otherwise the reading is the face's."""
    p = prediction
    effect = getattr(p, "eye_effect", None)
    if getattr(p, "gap_claimed", False):
        text = window_headline(p.er, p.fer, p.window_s, face_now)
        moved = effect.top7 != effect.top7_without
        return f"{text} — {eye_effect_line(effect)}" if moved else text
    if effect is None:
        return f"The face shows {NOUN[p.fer.top7]}; no eye effect recorded, so no gap"
    return f"The face shows {NOUN[p.fer.top7]}; the eyes add no gap ({effect.jsd:.2f} < {effect.threshold:g})"


def clock_text(s: float) -> str:
    """Seconds as mm:ss (a position in a reviewed session)."""
    s = int(s)
    return f"{s // 60:02d}:{s % 60:02d}"


def paused_reason(start_s: float, end_s: float | None) -> str:
    """Review: why a position inside a pause of the recording shows nothing (the pause in
    seconds from the session's start; end None: the recording never resumed)."""
    span = f"{clock_text(start_s)}–{clock_text(end_s)}" if end_s is not None else f"from {clock_text(start_s)}"
    return f"recording paused {span}, nothing recorded here"  # the span first: headlines cut the end


def disagreement_label(er: HeadOutput, fer: HeadOutput) -> str:
    """The gap's label: never a class for the eyes that the headline calls unclear."""
    eyes = er.top7 if float(er.probs7.max()) >= CLEAR_ER_P else "unclear"
    return f"face: {fer.top7} / eyes: {eyes}"


def face_notice(face) -> tuple[str, str]:
    """Plain words for the face check under the video: (text, "warn" | "info"), ("", "") when
    all is well. Only what stops the face from being used is a warning."""
    if face is None:
        return "", ""
    status = getattr(face, "status", "ok")
    n = getattr(face, "n_faces", 1) or 0
    several = f"{n} faces in view: the largest is used. " if n > 1 else ""
    usable = getattr(face, "crop", None) is not None
    if status == "no_face":
        return "No face in view", "warn"
    if status == "too_small":
        return several + "Face too small: move closer to the camera", "warn"
    if status == "cut_off":
        if not usable:
            return several + "Face cut off by the picture edge: not used", "warn"
        return several + "Face partly outside the picture (still used)", "info"
    return (several.strip(), "info") if several else ("", "")


def status_texts(stats: dict, model_busy_s: float | None = None) -> dict[str, str]:
    """The status bar's fields from LiveState.stats (missing keys show as '–')."""
    def num(key, fmt):
        v = stats.get(key)
        return fmt.format(v) if isinstance(v, (int, float)) and v == v else "–"

    provider = str(stats.get("provider") or "–").replace("ExecutionProvider", "")
    model = stats.get("model_name") or "no model"
    prov = stats.get("model_provenance")
    latency = f"latency {num('latency_p50_ms', '{:.0f}')} ms (p95 {num('latency_p95_ms', '{:.0f}')})"
    if model_busy_s is not None:
        latency = f"model busy for {model_busy_s:.1f} s"
    return {
        "camera": f"camera {num('camera_fps', '{:.1f}')} fps",
        "gaze": f"gaze {num('gaze_hz', '{:.0f}')} Hz · dropped {num('gaze_dropped', '{:d}')}",
        "latency": latency,
        "inference": f"inference {num('inference_ms', '{:.1f}')} ms",
        "provider": provider,
        # the card's provenance up to its first ':' ("demo model"); the whole of it is in the tooltip
        "model": f"{model} ({str(prov).split(':')[0]})" if prov else str(model),
    }


def input_banners(stats: dict, frame_spec: str = "", gaze_spec: str = "", replay: dict | None = None) -> list[str]:
    """Plain statements of what is on screen when it is not a live participant (empty: it is).

    replay: {"name": session folder name, "devices": the session's recorded sources} while a
    recorded session plays; its own DEMO / SIMULATED / RECORDED GAZE facts carry over."""
    if replay is not None:
        devices = replay.get("devices") or {}
        frame_spec, gaze_spec = str(devices.get("frame", "")), str(devices.get("gaze", ""))
        demo, simulated = frame_spec == "demo", gaze_spec.startswith("simulated")
    else:
        demo, simulated = bool(stats.get("demo_input")), bool(stats.get("simulated_gaze"))
    parts = []
    if replay is not None:
        parts.append(f"REPLAY of session {replay.get('name', '?')}")
    if demo:
        parts.append("DEMO INPUT (still photo)")
    if simulated:
        parts.append("SIMULATED GAZE")
    if gaze_spec.startswith("tsv"):
        parts.append("RECORDED GAZE (a Tobii file)")
    return parts


def input_banner(stats: dict, frame_spec: str = "", gaze_spec: str = "", replay: dict | None = None) -> str:
    return "  ·  ".join(input_banners(stats, frame_spec, gaze_spec, replay))


DEMO_ER_NOTE = "demo model: eye effects assumed"


def is_demo_model(stats: dict) -> bool:
    """Whether the running model's card says its provenance kind is 'demo'."""
    return str(stats.get("model_provenance_kind") or "").lower() == "demo"


def er_title(stats: dict) -> tuple[str, str]:
    """The ER panel's title and its tooltip: what it claims, or, for a demo model, that it is one
    (the title is short enough for a 1280 px window; the tooltip says its eye effects are assumed)."""
    if is_demo_model(stats):
        return "ER · demo model", f"ER · {DEMO_ER_NOTE}"
    return "ER · what face + eyes reveal", "ER · what face + eyes reveal"


def with_model_note(headline: str, stats: dict) -> str:
    """A headline about ER, prefixed with the demo note for a demo model (first: a headline that is
    too long loses its end, never the note; the short form, so a 1280 px window still shows the
    reading after it)."""
    return f"Demo model · {headline}" if is_demo_model(stats) else headline


def model_caveat(stats: dict) -> str:
    """For audiences: what a demo model's output is worth ('' for other models)."""
    prov = str(stats.get("model_provenance") or "")
    if "demo" not in prov.lower():
        return ""
    return ("DEMO MODEL: ER trained on two people's eye recordings with simulated emotions; "
            "an illustration, not a measurement of anyone's feelings")
