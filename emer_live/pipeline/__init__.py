"""From timestamped inputs to predictions: sliding-window buffers (buffers), the ONNX Runtime
engine (engine), gap metrics (gap), the deterministic Pipeline (core), the offline and live
runners (offline, live), sink fan-out (sinks) and run summaries (report). No Qt, no torch."""
