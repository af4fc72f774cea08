"""ReviewModel: a recorded session at any moment, Qt-free. The player (player.py) stands in for the
live runner; this feeds its snapshot and predictions into the same PanelModel the live window
uses, the way the live window fed them, so the states shown at moment t are those live showed
at t. The review bar reads its position, the timeline's span and its marks from here."""

from __future__ import annotations

from dataclasses import dataclass

from emer_live.window_model.panels import PanelModel, WindowView
from emer_live.window_model.player import SessionPlayer


@dataclass
class Mark:
    kind: str  # "marker" | "stimulus" | "answer" | "pause" (a span: the recording was paused)
    start_s: float
    end_s: float
    text: str


def session_marks(player) -> list[Mark]:
    """What the timeline draws, in seconds from the session's start."""
    t0 = player.start_ns
    out, onset = [], {}
    for m in player.markers:
        t = (m["host_ns"] - t0) / 1e9
        kind = m.get("kind", "")
        if kind == "stimulus_onset":
            onset[m["label"]] = t
        elif kind == "stimulus_offset":
            out.append(Mark("stimulus", onset.pop(m["label"], t), t, m["label"]))
        else:
            out.append(Mark("marker", t, t, m["label"]))
    out += [Mark("stimulus", t, player.duration_s, name) for name, t in onset.items()]
    for a in player.answers:
        t = (a["host_ns"] - t0) / 1e9
        out.append(Mark("answer", t, t, f"{a['emotion7']} · V{a['valence']} A{a['arousal']}"))
    for start, end in player.runs.pauses:  # nothing was recorded there
        out.append(Mark("pause", (start - t0) / 1e9, player.duration_s if end is None else (end - t0) / 1e9,
                        "recording paused"))
    return sorted(out, key=lambda m: m.start_s)


class ReviewModel:
    def __init__(self, player: SessionPlayer, panels: PanelModel | None = None):
        self.player = player
        self.panels = panels if panels is not None else PanelModel()
        self._generation = player.generation

    # --- position and timeline ------------------------------------------------------------
    @property
    def position_s(self) -> float:
        return self.player.position_s()

    @property
    def span_s(self) -> tuple[float, float]:
        """The timeline: the whole recording, to the session's end, not to its last sample."""
        return 0.0, self.player.duration_s

    @property
    def marks(self) -> list[Mark]:
        return session_marks(self.player)

    def advance(self) -> bool:
        """Moves the position on; True when it went into another run, a pause or back in time:
        then everything drawn must be forgotten (as live after a restart)."""
        self.player.position_s()
        if self.player.generation == self._generation:
            return False
        self._generation = self.player.generation
        return True

    # --- the panels -----------------------------------------------------------------------
    def feed(self) -> tuple[object, list, list[str]]:
        """The player's snapshot and new predictions at the position, into the panel model, as the
        window's tick feeds them; returns (snapshot, predictions, messages) for the window to draw."""
        state = self.player.snapshot()
        predictions = self.player.predictions_since(self.panels.seq)
        said = self.panels.feed(state, predictions, self.now_s(), review=True,
                                window_fer_only=not self.player.has_frame_fer)
        return state, predictions, said

    def now_s(self) -> float:
        """The session's clock at the position (the host clock the live window read then)."""
        return self.player.position_ns() / 1e9

    def view(self) -> WindowView:
        return self.panels.view(running=True, now_s=self.now_s(), replay=True, review=True)

    def states_at(self, t_s: float) -> WindowView:
        """Every panel's state t_s into the recording (a seek, then one tick's worth of input)."""
        self.player.seek(t_s)
        if self.advance():
            self.panels.reset()
        self.feed()
        return self.view()
