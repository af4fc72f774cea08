# Ctrl+C before the first imports finish (numpy, OpenCV, onnxruntime load for seconds) must end
# quietly: an interrupt inside a C extension's import surfaces as an ImportError, not as
# KeyboardInterrupt, so the stop is remembered here, before anything heavy is imported.
import signal
import sys

_interrupted = []


def _on_sigint(signum, frame):
    _interrupted.append(signum)
    raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)
try:
    from emer_live.cli import main
except BaseException:
    if _interrupted:
        raise SystemExit(130)
    raise

raise SystemExit(main())
