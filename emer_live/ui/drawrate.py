"""How fast the window draws with every panel live: the whole window repainted per tick, as
fast as it goes, offscreen. Used by the benchmark (emer-live bench) and for the docs."""

from __future__ import annotations

import os
import time

import numpy as np


def measure_draw_rate(seconds: float = 5.0, frame: str = "demo", gaze: str = "simulated", model: str = "",
                      warmup_s: float = 3.0, size: tuple[int, int] = (1600, 940)) -> dict:
    """Run the real pipeline on the given sources until predictions flow, then repaint the full
    window back to back for `seconds`. Returns frames drawn per second and per-frame draw
    times (ms), and how many new predictions were drawn meanwhile."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from emer_live.ui.app import application
    from emer_live.ui.controller import LiveController, SourceChoice
    from emer_live.ui.main_window import MainWindow

    app = application()
    settings = QSettings(QSettings.IniFormat, QSettings.UserScope, "EMER Live", "emer-live-drawrate")
    win = MainWindow(LiveController(SourceChoice(frame, gaze, model)), settings=settings)
    win.resize(*size)
    win.show()
    if not win.start():
        win.close()
        raise RuntimeError("pipeline did not start: " + "; ".join(n.text for n in win.controller.notices.values()))
    win.timer.stop()  # ticks are driven here, back to back
    try:
        # warm up until predictions flow (the first comes one model window after the start)
        start, limit = time.monotonic(), time.monotonic() + warmup_s + 60
        while (time.monotonic() < start + warmup_s or win.last_prediction is None) and time.monotonic() < limit:
            win.tick()
            win.repaint()
            app.processEvents()
        times, seq0 = [], win.model.seq
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            win.tick()
            win.repaint()
            app.processEvents()
            times.append(time.perf_counter() - t0)
        predictions = win.model.seq - seq0
    finally:
        win.close()
        QApplication.processEvents()
    ms = np.array(times) * 1000
    return {"fps": round(len(times) / seconds, 1), "frames": len(times), "seconds": seconds,
            "draw_ms_p50": round(float(np.percentile(ms, 50)), 2), "draw_ms_p95": round(float(np.percentile(ms, 95)), 2),
            "predictions_drawn": int(predictions), "window": list(size), "qt_platform": app.platformName(),
            "sources": {"frame": frame, "gaze": gaze, "model": model or "default"}}


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Measure the window's draw rate with all panels live (offscreen).")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--model", default="")
    ap.add_argument("--frame", default="demo")
    ap.add_argument("--gaze", default="simulated")
    a = ap.parse_args()
    print(json.dumps(measure_draw_rate(a.seconds, a.frame, a.gaze, a.model), indent=2))
