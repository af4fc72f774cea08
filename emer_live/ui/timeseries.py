"""Scrolling time series (last 60 s by default): ER vs FER valence and arousal, and the gap
(Jensen-Shannon divergence), with the spans where the top classes disagree shaded and labelled."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from emer_live.ui import theme
from emer_live.ui.text import disagreement_label

# No antialiasing and no grid: the window redraws these plots up to 30 times a second on two
# CPU cores, and antialiased grid lines across every plot cost more than everything else drawn.
pg.setConfigOptions(antialias=False, background=theme.PANEL, foreground=theme.MUTED)

_MAX_POINTS = 36000  # one hour at 10 Hz; older points are dropped
MERGE_S = 1.0  # same disagreement again within this many seconds: one span, not two


LEGEND_HTML = (f'<span style="color:{theme.ER}">━ ER (face + eyes)</span> &nbsp; '
               f'<span style="color:{theme.FER}">━ FER (face)</span> &nbsp; '
               f'<span style="color:{theme.GAP}">━ gap &nbsp;▮ top classes disagree</span>')


class TimeSeries(pg.GraphicsLayoutWidget):
    def __init__(self, span_s: float = 60.0, parent=None):
        super().__init__(parent)
        self.span_s = span_s
        self.t0_ns: int | None = None
        self._cols = {k: [] for k in ("t", "er_v", "fer_v", "er_a", "fer_a", "jsd")}
        self._labels: list[str | None] = []  # disagreement label per point, None when they agree
        self.plots = {}
        self.curves = {}
        for row, (key, title, yr) in enumerate((("valence", "valence", (-1.15, 1.15)),
                                                  ("arousal", "arousal", (-1.15, 1.15)),
                                                  ("gap", "gap (JSD)", (-0.05, 1.1)))):
            plot = self.addPlot(row=row, col=0)
            plot.setLabel("left", title)
            plot.setYRange(*yr, padding=0)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(theme.GRID, width=1)))
            plot.getAxis("left").setWidth(52)
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

    # --- data ------------------------------------------------------------------------
    def add(self, prediction) -> None:
        if self.t0_ns is None:
            self.t0_ns = prediction.window_end_ns
        c = self._cols
        c["t"].append((prediction.window_end_ns - self.t0_ns) / 1e9)
        c["er_v"].append(prediction.er.valence)
        c["fer_v"].append(prediction.fer.valence)
        c["er_a"].append(prediction.er.arousal)
        c["fer_a"].append(prediction.fer.arousal)
        c["jsd"].append(prediction.gap.jsd)
        self._labels.append(disagreement_label(prediction.er, prediction.fer) if prediction.gap.top_disagree else None)
        if len(c["t"]) > _MAX_POINTS:
            for v in c.values():
                del v[: len(v) - _MAX_POINTS]
            del self._labels[: len(self._labels) - _MAX_POINTS]

    def reset(self) -> None:
        """Forget all points. (Not `clear`: GraphicsLayoutWidget binds its layout's clear() to
        that name on the instance, which would remove the plots themselves.)"""
        self.t0_ns = None
        for v in self._cols.values():
            v.clear()
        self._labels.clear()
        self.redraw()

    def disagreement_spans(self) -> list[tuple[float, float, str]]:
        """(start_s, end_s, label) of each run of equal disagreement inside the visible span."""
        t = self._cols["t"]
        if not t:
            return []
        lo = t[-1] - self.span_s
        spans: list[tuple[float, float, str]] = []
        for i, label in enumerate(self._labels):
            if label is None or t[i] < lo:
                continue
            end = t[i + 1] if i + 1 < len(t) else t[i]
            if spans and spans[-1][2] == label and t[i] - spans[-1][1] <= MERGE_S:
                spans[-1] = (spans[-1][0], end, label)
            else:
                spans.append((t[i], end, label))
        return spans

    # --- drawing ---------------------------------------------------------------------
    def redraw(self) -> None:
        t = np.asarray(self._cols["t"])
        if len(t):
            first = int(np.searchsorted(t, t[-1] - self.span_s - 1))
        else:
            first = 0
        for key, curve in self.curves.items():
            curve.setData(t[first:], np.asarray(self._cols[key][first:], dtype=float))
        right = t[-1] if len(t) else self.span_s
        self.plots["valence"].setXRange(max(0.0, right - self.span_s), max(self.span_s, right), padding=0)
        self._draw_spans(self.disagreement_spans())

    def _draw_spans(self, spans) -> None:
        brush = theme.qcolor(theme.GAP, 45)
        for key, plot in self.plots.items():
            pool = self._regions[key]
            while len(pool) < len(spans):
                region = pg.LinearRegionItem(movable=False, brush=brush, pen=pg.mkPen(None))
                region.setZValue(-10)
                plot.addItem(region)
                pool.append(region)
            for i, region in enumerate(pool):
                region.setVisible(i < len(spans))
                if i < len(spans):
                    region.setRegion(spans[i][:2])
        while len(self._texts) < len(spans):
            text = pg.TextItem(color=theme.GAP, anchor=(0, 0))
            self.plots["gap"].addItem(text)
            self._texts.append(text)
        # a label only where it does not run into the previous one (~18% of the view wide)
        last_x = -np.inf
        for i, text in enumerate(self._texts):
            show = i < len(spans) and spans[i][0] - last_x > 0.18 * self.span_s
            text.setVisible(show)
            if show:
                last_x = spans[i][0]
                text.setText(spans[i][2])
                text.setPos(spans[i][0], 1.08)
