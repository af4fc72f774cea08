"""The gap is claimed (headline, shading, presentation) only where the eyes' own effect is beyond
its threshold and the eye check passes; otherwise the window says the reading is the face's."""

from __future__ import annotations

import dataclasses

from emer_live.pipeline.eye_effect import CONTRADICTION_REASON
from emer_live.window_model import states as S
from emer_live.window_model.text import reading_headline
from tests.ui.doubles import FakeRunner, prediction, state

FACES = "The face shows happiness"


def test_headline_words():
    moved = prediction(0, "sadness", "happiness", 0.0)
    assert moved.gap_claimed
    assert reading_headline(moved) == "Smile on the face, sadness in the eyes — the eyes moved ER from happiness to sadness"
    still = prediction(0, "sadness", "happiness", 0.0, eyes_moved=False)
    assert not still.gap_claimed
    assert reading_headline(still) == FACES + "; the eyes add no gap (0.00 < 0.25)"
    old = dataclasses.replace(moved, eye_effect=None)  # a session recorded before eye_effect
    assert reading_headline(old) == FACES + "; no eye effect recorded, so no gap"
    flagged = dataclasses.replace(moved, eye_check={"unfamiliar": True, "reason": "frozen samples"})
    assert not flagged.gap_claimed  # the eyes moved ER, but the check fails


def test_no_eye_effect_no_gap_claimed_in_the_window(make_window):
    steps = [(state(i), [prediction(i, "sadness", "happiness", i * 0.1, eyes_moved=False)]) for i in range(5)]
    win = make_window(runner_factory=lambda: FakeRunner(steps))
    win.start()
    win.toggle_presentation()
    for _ in range(5):
        win.tick()
    assert win.headline.text().startswith(FACES + "; the eyes add no gap")
    assert win.timeseries.disagreement_spans() == []  # no shading for a gap the eyes did not make
    assert win.presentation.headline.text().startswith(FACES + "; the eyes add no gap")
    assert win.presentation.gap.text() == "no gap claimed: the reading is the face's"
    win.presentation.close()


def test_a_contradiction_flagged_by_the_rule_shows_er_unreliable(make_window):
    p = prediction(0, "sadness", "happiness", 0.0, eyes_moved=False)
    p = dataclasses.replace(p, eye_check={"score": None, "threshold": None, "unfamiliar": True,
                                          "reason": CONTRADICTION_REASON, "contradiction": True})
    win = make_window(runner_factory=lambda: FakeRunner([(state(0), [p])]))
    win.start()
    win.tick()
    assert win.panels["er"].state.state == S.UNRELIABLE
    assert "no gap is claimed" in win.headline.text()
    assert S.unreliable_reason(p) == CONTRADICTION_REASON
