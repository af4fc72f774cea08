"""Scrolling time series (last 60 s by default): ER vs FER valence and arousal, and the gap
(Jensen-Shannon divergence), with the spans where the top classes disagree shaded and labelled."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from emer_live.ui import theme
from emer_live.window_model.text import NO_FER, disagreement_label, reads_fer

# No antialiasing and no grid: the window redraws these plots up to 30 times a second on two
# CPU cores, and antialiased grid lines across every plot cost more than everything else drawn.
pg.setConfigOptions(antialias=False, background=theme.PANEL, foreground=theme.MUTED)

_MAX_POINTS = 36000  # one hour at 10 Hz; older points are dropped
MERGE_S = 1.0  # same disagreement again within this many seconds: one span, not two
# Consecutive predictions further apart than this have no data between them: the curves break
# there (no straight line across the hole) and no span reaches over it.
HOLE_S = 1.0
# New points are drawn at most this often: one redraw of the three plots with 60 s of points and
# shaded spans takes 15-25 ms on a 2-core machine, and the 60 s strip moves 3 px between redraws.
REDRAW_S = 0.2
GAP_TOP = 1.05  # the gap curve (JSD <= 1) stays below this; the label band is drawn above it
VALENCE_Y = (-1.15, 1.15)  # the valence curves' range (values in [-1, 1]); the marks' lane lies above it
MARK_ROWS = 3  # marker / stimulus labels close together take turns on this many rows...
LANE_SHARE = 0.45  # ...as many as fit in this share of the valence plot's height (the curves keep the rest)


class TimeSeries(pg.GraphicsLayoutWidget):
    def __init__(self, span_s: float = 60.0, parent=None):
        super().__init__(parent)
        self.span_s = span_s
        self.t0_ns: int | None = None
        self._cols = {k: [] for k in ("t", "er_v", "fer_v", "er_a", "fer_a", "jsd")}
        self._labels: list[str | None] = []  # disagreement label per point, None when they agree
        self.plots = {}
        self.curves = {}
        for row, (key, title, yr) in enumerate((("valence", "valence", VALENCE_Y),
                                                  ("arousal", "arousal", VALENCE_Y),
                                                  ("gap", "gap (JSD)", (-0.05, 1.1)))):
            plot = self.addPlot(row=row, col=0)
            plot.setLabel("left", title)
            plot.setYRange(*((-0.05, 1.5) if key == "gap" else yr), padding=0)  # gap: see _label_band_top
            # each plot keeps at least 55 px of data area; the bottom one also carries the time axis
            self.ci.layout.setRowMinimumHeight(row, 55 + (38 if key == "gap" else 0))
            self.ci.layout.setRowStretchFactor(row, 1)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(theme.GRID, width=1)))
            plot.getAxis("left").setWidth(52)
            # fixed ticks: the label lanes above the data must not grow the axis's numbers
            plot.getAxis("left").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")] if key == "gap" else
                                           [(-1, "-1"), (0, "0"), (1, "1")]])
            if row < 2:
                plot.getAxis("bottom").setStyle(showValues=False)
            else:
                plot.setLabel("bottom", "time (s)")
            if row:
                plot.setXLink(self.plots["valence"])
            self.plots[key] = plot
        for key in ("valence", "arousal"):
            self.curves[f"er_{key[0]}"] = self.plots[key].plot(pen=pg.mkPen(theme.ER, width=2.5))
            self.curves[f"fer_{key[0]}"] = self.plots[key].plot(pen=pg.mkPen(theme.FER, width=2.5))
        self.curves["jsd"] = self.plots["gap"].plot(pen=pg.mkPen(theme.GAP, width=2.5))
        self._regions: dict[str, list] = {k: [] for k in self.plots}
        self._texts: list[pg.TextItem] = []
        self._marks: list[tuple[int, str]] = []  # (host_ns, label): markers and stimuli placed
        self._pending = False  # points added since the last redraw
        self._drawn_at = float("-inf")
        self._mark_lines: list[pg.InfiniteLine] = []
        self._mark_texts: list[pg.TextItem] = []
        self.no_fer = False  # the newest window's model reads no FER (fer_source "none")
        self.no_fer_note = pg.TextItem(NO_FER + " (no FER curves, no gap)", color=theme.MUTED, anchor=(0, 0))
        self.no_fer_note.setFont(theme.font(12))
        self.no_fer_note.hide()
        self.plots["gap"].addItem(self.no_fer_note)

    # --- data ------------------------------------------------------------------------
    def add(self, prediction) -> None:
        if self.t0_ns is None:
            self.t0_ns = prediction.window_end_ns
        c = self._cols
        c["t"].append((prediction.window_end_ns - self.t0_ns) / 1e9)
        c["er_v"].append(prediction.er.valence)
        # an untrained FER head is no reading: no FER curve (its NaN breaks the line) and no gap
        self.no_fer = not reads_fer(prediction)
        nan = float("nan")
        c["fer_v"].append(nan if self.no_fer else prediction.fer.valence)
        c["er_a"].append(prediction.er.arousal)
        c["fer_a"].append(nan if self.no_fer else prediction.fer.arousal)
        c["jsd"].append(nan if self.no_fer else prediction.gap.jsd)
        # shaded only where the gap is the eyes' (their own effect beyond threshold, the check passing)
        claimed = prediction.gap.top_disagree and getattr(prediction, "gap_claimed", True)
        self._labels.append(disagreement_label(prediction.er, prediction.fer) if claimed else None)
        if len(c["t"]) > _MAX_POINTS:
            for v in c.values():
                del v[: len(v) - _MAX_POINTS]
            del self._labels[: len(self._labels) - _MAX_POINTS]

    def add_mark(self, host_ns: int, label: str) -> None:
        """A marker or stimulus event, drawn as a labelled line across the plots."""
        self._marks.append((int(host_ns), label))
        self.redraw()

    def reset(self) -> None:
        """Forget all points. (Not `clear`: GraphicsLayoutWidget binds its layout's clear() to
        that name on the instance, which would remove the plots themselves.)"""
        self.t0_ns = None
        self.no_fer = False
        for v in self._cols.values():
            v.clear()
        self._labels.clear()
        self._marks.clear()
        self.redraw()

    def disagreement_spans(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, label) of each run of one disagreement inside the visible span: a new
        span starts when the label changes, so each span carries its own label; a hole in the
        data ends a span."""
        t = self._cols["t"]
        if not t:
            return []
        lo = t[-1] - self.span_s
        spans: list[tuple[float, float, str]] = []
        for i, label in enumerate(self._labels):
            if label is None or t[i] < lo:
                continue
            nxt = t[i + 1] if i + 1 < len(t) else t[i]
            end = nxt if nxt - t[i] <= HOLE_S else t[i]
            if spans and spans[-1][2] == label and t[i] - spans[-1][1] <= MERGE_S:
                spans[-1] = (spans[-1][0], end, label)
            else:
                spans.append((t[i], end, label))
        return spans

    # --- drawing ---------------------------------------------------------------------
    def redraw_soon(self) -> None:
        """Draw new points now, or at the first flush() REDRAW_S after the last redraw."""
        self._pending = True
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Draw pending points if the last redraw is REDRAW_S old (or at once with force)."""
        if self._pending and (force or time.monotonic() - self._drawn_at >= REDRAW_S):
            self.redraw()

    def redraw(self) -> None:
        self._pending, self._drawn_at = False, time.monotonic()
        t = np.asarray(self._cols["t"])
        if len(t):
            first = int(np.searchsorted(t, t[-1] - self.span_s - 1))
        else:
            first = 0
        tt = t[first:]
        holes = np.flatnonzero(np.diff(tt) > HOLE_S) + 1 if len(tt) > 1 else np.zeros(0, int)
        tt = np.insert(tt, holes, np.nan) if len(holes) else tt
        for key, curve in self.curves.items():
            y = np.asarray(self._cols[key][first:], dtype=float)
            if len(holes):
                y = np.insert(y, holes, np.nan)  # a NaN breaks the line: no data, no line
            curve.setData(tt, y, connect="finite")
        right = t[-1] if len(t) else self.span_s
        self.plots["valence"].setXRange(max(0.0, right - self.span_s), max(self.span_s, right), padding=0)
        self._draw_spans(self.disagreement_spans())
        self._draw_marks(right)
        # in the gap plot's label band (no curve, and no span label: no gap is claimed without FER)
        self.no_fer_note.setVisible(self.no_fer)
        if self.no_fer:
            self.no_fer_note.setPos(self.plots["gap"].getViewBox().viewRange()[0][0], self._label_band_top())

    def _draw_marks(self, right: float) -> None:
        """Each mark is a dashed line across the plots; its label sits in a lane above the valence
        curves (the plot's y range grows by the rows in use), so no label covers a curve."""
        shown = [] if self.t0_ns is None else [((ns - self.t0_ns) / 1e9, label) for ns, label in self._marks]
        left = max(0.0, right - self.span_s)
        shown = [(x, label) for x, label in shown if left <= x <= right]
        plot = self.plots["valence"]
        while len(self._mark_lines) < len(shown):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.WARN, width=1, style=Qt.DashLine))
            text = pg.TextItem(color=theme.WARN, anchor=(0, 0), fill=theme.qcolor(theme.PANEL, 230))
            text.setFont(theme.font(12))
            # an earlier label above a later mark's dashed line
            text.setZValue(60 - len(self._mark_texts) % 40)
            plot.addItem(line)
            plot.addItem(text)
            self._mark_lines.append(line)
            self._mark_texts.append(text)
        layout = self.mark_layout(shown)
        rows = 1 + max((at[0] for at in layout if at is not None), default=-1)
        top = self._reserve_lane("valence", VALENCE_Y[1], VALENCE_Y[0], rows * self._mark_label_px())
        per_px = (top - VALENCE_Y[0]) / max(plot.getViewBox().height(), 1.0)
        for i, (line, text) in enumerate(zip(self._mark_lines, self._mark_texts)):
            line.setVisible(i < len(shown))
            at = layout[i] if i < len(shown) else None
            text.setVisible(at is not None)  # a label with no free row is left out (its line is drawn)
            if i < len(shown):
                line.setPos(shown[i][0])
            if at is not None:
                text.setText(shown[i][1])
                text.setPos(at[1], top - at[0] * self._mark_label_px() * per_px)

    def _mark_label_px(self) -> float:
        """One row of the lane: a label's height with its margins."""
        return max([QFontMetrics(theme.font(12)).height() + 8] + [t.boundingRect().height() for t in self._mark_texts[:1]])

    def mark_rows(self, shown) -> list[int | None]:
        return [at[0] if at is not None else None for at in self.mark_layout(shown)]

    def mark_layout(self, shown) -> list[tuple[int, float] | None]:
        """(row, left x) of each mark's label (row 0 = top), starting at its line, or ending there
        near the right edge: a label that would overlap an earlier one on its row moves down a row,
        as many rows as LANE_SHARE of the plot's height holds; with none free, None (the label is
        left out rather than drawn over another)."""
        vb = self.plots["valence"].getViewBox()
        (x0, x1), _ = vb.viewRange()
        per_px = (x1 - x0) / max(vb.width(), 1.0)
        fm = QFontMetrics(theme.font(12))
        n_rows = max(1, min(MARK_ROWS, int(vb.height() * LANE_SHARE // self._mark_label_px())))
        taken: list[list[tuple[float, float]]] = [[] for _ in range(n_rows)]
        out = []
        for x, label in shown:
            w = (fm.horizontalAdvance(label) + 12) * per_px
            box = (x, x + w) if x + w <= x1 else (x - w, x)
            row = next((r for r in range(n_rows) if all(box[1] <= a or box[0] >= b for a, b in taken[r])), None)
            if row is not None:
                taken[row].append(box)
            out.append(None if row is None else (row, box[0]))
        return out

    def _draw_spans(self, spans) -> None:
        brush = theme.qcolor(theme.GAP, 45)
        for key, plot in self.plots.items():
            pool = self._regions[key]
            while len(pool) < len(spans):
                # edges drawn, so two touching spans with different labels read as two
                region = pg.LinearRegionItem(movable=False, brush=brush, pen=pg.mkPen(theme.qcolor(theme.GAP, 110)))
                region.setZValue(-10)
                plot.addItem(region)
                pool.append(region)
            for i, region in enumerate(pool):
                region.setVisible(i < len(spans))
                if i < len(spans):
                    region.setRegion(spans[i][:2])
        while len(self._texts) < len(spans):
            text = pg.TextItem(color=theme.GAP, anchor=(0, 0))
            text.setFont(theme.font(12))
            self.plots["gap"].addItem(text)
            self._texts.append(text)
        top = self._label_band_top()
        layout = self.label_layout(spans)
        for i, text in enumerate(self._texts):  # labels beyond this draw's spans are hidden, never left over
            pos = layout[i] if i < len(layout) else None
            text.setVisible(pos is not None)
            if pos is not None:
                text.setText(pos[1])
                text.setPos(pos[0], top)

    def _label_band_top(self) -> float:
        """The gap plot's y range leaves a band one label high above GAP_TOP, whatever the plot's
        height in pixels, so a label never sits on a gap curve near 1. Returns the band's top."""
        label_px = max([QFontMetrics(theme.font(12)).height() + 8] + [t.boundingRect().height() for t in self._texts[:1]])
        return self._reserve_lane("gap", GAP_TOP, -0.05, label_px + 2)

    def _reserve_lane(self, key: str, data_top: float, bottom: float, lane_px: float) -> float:
        """Sets plot `key`'s y range to [bottom, top] where [data_top, top] takes lane_px of its
        height (none: the data's own range); returns top."""
        vb = self.plots[key].getViewBox()
        k = min(0.6, lane_px / max(vb.height(), 1.0))
        top = (data_top - k * bottom) / (1 - k)  # the band's share of the whole range is k
        if abs(vb.viewRange()[1][1] - top) > 1e-3 or abs(vb.viewRange()[1][0] - bottom) > 1e-3:
            self.plots[key].setYRange(bottom, top, padding=0)
        return top

    def label_layout(self, spans) -> list[tuple[float, str] | None]:
        """Where each span's label goes: (x, text), or None. Longer spans are labelled first; a
        label starts inside its own span (or, where a neighbour follows, ends at its end), stays
        inside the view, never overlaps another label and never lies over another span (so no span
        can seem to carry a neighbour's label); the long form if it fits, else the short one."""
        vb = self.plots["gap"].getViewBox()
        (x0, x1), _ = vb.viewRange()
        per_px = (x1 - x0) / max(vb.width(), 1.0)
        fm = QFontMetrics(theme.font(12))
        out: list[tuple[float, str] | None] = [None] * len(spans)
        taken: list[tuple[float, float]] = []
        for i in sorted(range(len(spans)), key=lambda k: spans[k][0] - spans[k][1]):
            start, end, label = spans[i]
            others = [(s0, s1) for j, (s0, s1, _) in enumerate(spans) if j != i]
            for text in (label, _short(label)):
                w = (fm.horizontalAdvance(text) + 8) * per_px
                # from the span's start, else ending at its end (a neighbour may start right after it):
                # always over part of its own span, never over another span or label
                for x in (min(max(start, x0), x1 - w), min(end, x1) - w):
                    box = (x, x + w)
                    clear = all(box[1] <= a or box[0] >= b for a, b in taken + others)
                    own = box[0] <= max(start, end - 4 * per_px) and box[1] >= start + min(4 * per_px, end - start)
                    if x >= x0 and box[1] <= x1 + 1e-9 and own and clear:
                        out[i] = (x, text)
                        taken.append(box)
                        break
                if out[i] is not None:
                    break
        return out


def _short(label: str) -> str:
    """'face: happiness / eyes: sadness' -> 'happiness / sadness'."""
    return " / ".join(part.split(": ", 1)[-1] for part in label.split(" / "))
