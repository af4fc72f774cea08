"""Item 4: each disagreement span carries its own label, labels never overlap or leave the view,
and a stretch without data is not drawn as a line."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFontMetrics

from emer_live.ui import theme
from emer_live.ui.timeseries import TimeSeries
from tests.ui.doubles import prediction


def _series(qtbot, points):
    ts = TimeSeries()
    qtbot.addWidget(ts)
    ts.resize(900, 320)
    ts.show()
    for seq, (t, er, fer) in enumerate(points):
        ts.add(prediction(seq, er, fer, t))
    ts.redraw()
    qtbot.wait(10)
    ts.redraw()
    return ts


def test_a_span_keeps_its_own_label_when_the_disagreement_changes(qtbot):
    # demo-like: eyes neutral for 2 s, then sadness for 18 s, under a happy face
    pts = [(i * 0.1, "neutral" if i < 20 else "sadness", "happiness") for i in range(200)]
    ts = _series(qtbot, pts)
    spans = ts.disagreement_spans()
    assert [s[2] for s in spans] == ["face: happiness / eyes: neutral", "face: happiness / eyes: sadness"]
    assert spans[1][1] - spans[1][0] > 17
    shown = [(t.pos().x(), t.toPlainText()) for t in ts._texts if t.isVisible()]
    assert any("sadness" in text and x >= spans[1][0] - 1e-9 for x, text in shown)


def test_labels_never_overlap_and_stay_inside_the_view(qtbot):
    # many disagreements of 4 s, some touching, some with agreement between them
    emotions = ["sadness", "fear", "happiness", "anger", "neutral", "happiness", "disgust", "sadness"]
    pts = [(i * 0.1, emotions[(i // 40) % 8], "happiness") for i in range(600)]
    ts = _series(qtbot, pts)
    (x0, x1), _ = ts.plots["gap"].getViewBox().viewRange()
    per_px = (x1 - x0) / ts.plots["gap"].getViewBox().width()
    fm = QFontMetrics(theme.font(12))
    boxes = sorted((t.pos().x(), t.pos().x() + fm.horizontalAdvance(t.toPlainText()) * per_px)
                   for t in ts._texts if t.isVisible())
    assert boxes
    for (a0, a1), (b0, _) in zip(boxes, boxes[1:]):
        assert a1 <= b0 + 1e-6
    assert all(x0 - 1e-6 <= a and b <= x1 + 1e-6 for a, b in boxes)
    # no label lies over a span it does not belong to
    spans = ts.disagreement_spans()
    for i, t in enumerate(ts._texts[:len(spans)]):  # text i labels span i
        if t.isVisible():
            x, w = t.pos().x(), fm.horizontalAdvance(t.toPlainText()) * per_px
            assert spans[i][0] - 1e-9 <= x <= spans[i][1]
            assert all(x + w <= a + 1e-9 or x >= b - 1e-9 for j, (a, b, _) in enumerate(spans) if j != i)
    # labels sit above the gap curve's range (JSD <= 1)
    assert all(t.pos().y() > 1.0 for t in ts._texts if t.isVisible())


def test_a_hole_in_the_data_is_not_drawn_as_a_line(qtbot):
    pts = [(i * 0.1, "sadness", "happiness") for i in range(50)] + \
          [(20 + i * 0.1, "sadness", "happiness") for i in range(50)]
    ts = _series(qtbot, pts)
    x, y = ts.curves["jsd"].getData()
    gap = np.flatnonzero(~np.isfinite(y))
    assert len(gap) == 1 and x[gap[0] - 1] < 5 and x[gap[0] + 1] >= 20
    spans = ts.disagreement_spans()
    assert len(spans) == 2 and spans[0][1] < 5 and spans[1][0] >= 20


def test_reset_leaves_no_label_behind(qtbot):
    ts = _series(qtbot, [(i * 0.1, "neutral", "happiness") for i in range(100)])
    assert any(t.isVisible() for t in ts._texts)
    ts.reset()
    assert not any(t.isVisible() for t in ts._texts)


def test_new_points_are_drawn_at_most_every_redraw_interval(qtbot):
    """A redraw costs 15-25 ms, so points arriving at 10 Hz are drawn at most every REDRAW_S;
    none is left undrawn: the next flush after the interval draws them."""
    import time

    from emer_live.ui.timeseries import REDRAW_S

    ts = _series(qtbot, [(i * 0.1, "sadness", "happiness") for i in range(20)])
    n_drawn = lambda: len(ts.curves["jsd"].getData()[0])  # noqa: E731
    drawn = n_drawn()
    ts.add(prediction(20, "sadness", "happiness", 2.0))
    ts.redraw_soon()  # the last redraw was just now: held back
    ts.flush()
    assert n_drawn() == drawn
    time.sleep(REDRAW_S + 0.01)
    ts.flush()  # the interval has passed: drawn
    assert n_drawn() == drawn + 1
    ts.add(prediction(21, "sadness", "happiness", 2.1))
    ts.redraw_soon()
    ts.flush(force=True)  # a screenshot draws what is there
    assert n_drawn() == drawn + 2


def _scene_points(ts, key):
    """Every drawn point of plot `key`'s curves, in scene coordinates."""
    vb = ts.plots[key].getViewBox()
    pts = []
    for name, curve in ts.curves.items():
        if curve.getViewBox() is not vb:
            continue
        x, y = curve.getData()
        for xi, yi in zip(x, y):
            if np.isfinite(yi):
                pts.append(vb.mapViewToScene(pg_point(xi, yi)))
    return pts


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))


def test_labels_cover_no_curve_and_no_other_label(qtbot):
    """Curves at their extremes (valence +-1, the gap near 1), marks 0.2 s apart and disagreements
    changing every 2 s: every visible label's box, in scene coordinates, holds no curve point and
    meets no other label."""
    from dataclasses import replace

    ts = TimeSeries()
    qtbot.addWidget(ts)
    ts.resize(700, 240)  # the plots' height at 1280x720
    ts.show()
    for i in range(300):
        p = prediction(i, ["sadness", "anger", "fear"][(i // 20) % 3], "happiness", i * 0.1)
        # the valence curves at +-1 and a gap of about 1: where labels used to sit
        ts.add(replace(p, er=replace(p.er, valence=-1.0 if i % 2 else 1.0), fer=replace(p.fer, valence=1.0),
                       gap=replace(p.gap, jsd=0.99)))
    for k in range(6):
        ts.add_mark(ts.t0_ns + int((3 + 0.2 * k) * 1e9), f"stimulus {k}")
    ts.add_mark(ts.t0_ns + int(29.9 * 1e9), "a note at the right edge")
    ts.redraw()
    qtbot.wait(20)
    ts.redraw()
    labels = [t for t in ts._mark_texts + ts._texts if t.isVisible()]
    marks = [t for t in ts._mark_texts if t.isVisible()]
    assert len(marks) >= 2 and any(t.isVisible() for t in ts._texts)
    assert "a note at the right edge" in [t.toPlainText() for t in marks]  # kept inside the view
    boxes = [t.sceneBoundingRect() for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.intersects(b), (a, b)
    for key in ("valence", "gap"):
        view = ts.plots[key].getViewBox().sceneBoundingRect()
        own = [t.sceneBoundingRect() for t in labels if t.getViewBox() is ts.plots[key].getViewBox()]
        points = _scene_points(ts, key)
        assert points and own
        for box in own:
            assert view.adjusted(-1, -1, 1, 1).contains(box), (key, box, view)
            assert not any(box.contains(pt) for pt in points), key
