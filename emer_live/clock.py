"""One host clock for every stream: time.monotonic_ns()."""

from __future__ import annotations

import time
from dataclasses import dataclass, asdict


def now_ns() -> int:
    return time.monotonic_ns()


@dataclass
class ClockMapping:
    """Maps a device clock (microseconds) onto the host clock (nanoseconds).

    For Tobii: device system_time_stamp (µs, the SDK's get_system_time_stamp() clock) is sampled
    together with time.monotonic_ns(); host_ns = host_ref_ns + (device_us - device_ref_us) * 1000.
    The sampling uncertainty (the time the pair took to read) is kept so it can be reported.
    """

    device_ref_us: int
    host_ref_ns: int
    uncertainty_ns: int = 0
    source: str = ""

    def to_host_ns(self, device_us: int) -> int:
        return self.host_ref_ns + (int(device_us) - self.device_ref_us) * 1000

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def measure(cls, read_device_us, source: str = "", tries: int = 5) -> "ClockMapping":
        """Read the device clock between two host reads; keep the tightest bracket."""
        best = None
        for _ in range(tries):
            t0 = time.monotonic_ns()
            dev = int(read_device_us())
            t1 = time.monotonic_ns()
            if best is None or (t1 - t0) < best[2]:
                best = (dev, (t0 + t1) // 2, t1 - t0)
        return cls(device_ref_us=best[0], host_ref_ns=best[1], uncertainty_ns=best[2], source=source)
