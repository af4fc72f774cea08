"""Fan-out to sinks (the recorder, a UI bridge...). A sink is any object with some of
on_frame(frame, face_result), on_gaze(sample), on_prediction(prediction), on_event(event),
on_face_crop(frame_index, host_ns, crop_rgb), on_frame_fer(frame_fer). Sinks must only enqueue; one that raises is
counted and reported, never allowed to stop the pipeline."""

from __future__ import annotations

import threading
from collections import Counter


class SinkSet:
    def __init__(self, sinks=()):
        self.sinks = list(sinks)
        self.errors = Counter()
        self.first_error: dict[str, str] = {}
        self.on_error = None  # called as on_error(key, exception) on each sink method's first failure
        self._lock = threading.Lock()

    def add(self, sink) -> None:
        self.sinks.append(sink)

    def emit(self, method: str, *args) -> None:
        for sink in self.sinks:
            fn = getattr(sink, method, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception as e:  # a broken sink must not stop capture
                key = f"{type(sink).__name__}.{method}"
                with self._lock:
                    self.errors[key] += 1
                    first = self.errors[key] == 1
                    self.first_error.setdefault(key, f"{type(e).__name__}: {e}")
                if first and self.on_error is not None:
                    try:
                        self.on_error(key, e)
                    except Exception:  # reporting must not stop capture either
                        pass

    def report(self) -> dict:
        with self._lock:
            return {k: {"count": n, "first": self.first_error[k]} for k, n in self.errors.items()}
