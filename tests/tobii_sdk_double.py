"""The one test double of tobii-research 2.x: its EyeTracker (subscriptions, frequencies, display
area as the SDK's own DisplayArea, notifications) and its gaze samples. Every gaze sample a test
sends is made by sdk_gaze_dict and checked by the SDK's own GazeData class, so it holds exactly the
keys and types the pinned SDK (2.1.0) delivers: no track-box coordinates."""

from __future__ import annotations

import math
import threading
import time
import types

import numpy as np

from emer_live.sources.tobii import _NOTES
from emer_live.types import GAZE_COL

_NAN2, _NAN3 = (math.nan, math.nan), (math.nan, math.nan, math.nan)


def sdk_gaze_dict(device_us: int, system_us: int, eyes: dict) -> dict:
    """The SDK's dictionary form of one gaze sample. eyes: {"left"/"right": {"display": (x, y),
    "gaze_ucs": (x, y, z), "pupil": mm, "origin_ucs": (x, y, z)}}, None for an eye not found
    (values NaN, validity 0), as the SDK sends it. Checked by tobii_research's GazeData."""
    from tobiiresearch.implementation.GazeData import GazeData

    d = {"device_time_stamp": int(device_us), "system_time_stamp": int(system_us)}
    for eye in ("left", "right"):
        e = eyes.get(eye)
        gaze_ok = e is not None and e.get("display") is not None
        pupil_ok = e is not None and e.get("pupil") is not None
        origin_ok = e is not None and e.get("origin_ucs") is not None
        d.update({
            f"{eye}_gaze_point_on_display_area": tuple(map(float, e["display"])) if gaze_ok else _NAN2,
            f"{eye}_gaze_point_in_user_coordinate_system":
                tuple(map(float, e.get("gaze_ucs") or _NAN3)) if gaze_ok else _NAN3,
            f"{eye}_gaze_point_validity": int(gaze_ok),
            f"{eye}_pupil_diameter": float(e["pupil"]) if pupil_ok else math.nan,
            f"{eye}_pupil_validity": int(pupil_ok),
            f"{eye}_gaze_origin_in_user_coordinate_system": tuple(map(float, e["origin_ucs"])) if origin_ok else _NAN3,
            f"{eye}_gaze_origin_validity": int(origin_ok),
        })
    g = GazeData(d)  # raises on a key or type the SDK would not send
    assert g.device_time_stamp == d["device_time_stamp"]
    return d


def _triple(raw, eye, key, axes="xyz"):
    v = tuple(raw[GAZE_COL[f"{eye}_{key}_{a}"]] for a in axes)
    return v if all(np.isfinite(v)) else None


def dicts_from_recording(t_us: np.ndarray, raw: np.ndarray, system_offset_us: int = 0) -> list[dict]:
    """Real recorded samples (device times in µs, the 30 raw values) as the SDK 2.x would send them."""
    out = []
    for t, r in zip(t_us, raw):
        eyes = {}
        for eye in ("left", "right"):
            ok = r[GAZE_COL[f"{eye}_gaze_point_validity"]] == 1
            pup_ok = r[GAZE_COL[f"{eye}_pupil_validity"]] == 1 and np.isfinite(r[GAZE_COL[f"{eye}_pupil_diameter"]])
            org_ok = r[GAZE_COL[f"{eye}_gaze_origin_validity"]] == 1
            display = _triple(r, eye, "gaze_point_on_display_area", "xy") if ok else None
            eyes[eye] = {"display": display,
                         "gaze_ucs": _triple(r, eye, "gaze_point_in_user_coordinate_system") if ok else None,
                         "pupil": float(r[GAZE_COL[f"{eye}_pupil_diameter"]]) if pup_ok else None,
                         "origin_ucs": _triple(r, eye, "gaze_origin_in_user_coordinate_system") if org_ok else None}
        out.append(sdk_gaze_dict(int(t), int(t) + system_offset_us, eyes))
    return out


# --- the EyeTracker ------------------------------------------------------------------------------

NAMES = [*_NOTES, "EYETRACKER_GAZE_DATA", "EYETRACKER_STREAM_ERRORS", "EYETRACKER_EYE_OPENNESS_DATA",
         "CAPABILITY_HAS_EYE_OPENNESS_DATA"]
SYS_OFFSET_US = 987_654_321  # the SDK's system clock is not the host clock


def _gaze_dict(i, dev_us, sys_us):
    """A sample as tobii-research 2.x sends it (tobii_sdk_double: checked by the SDK's GazeData)."""
    x, y = 0.5 + 0.1 * math.sin(i / 50), 0.5 + 0.1 * math.cos(i / 70)
    blink = 100 <= i % 400 < 130
    eyes = {eye: None if blink else {"display": (x + dx, y), "gaze_ucs": ((x - 0.5) * 527, 170.0, 0.0), "pupil": 3.4,
                                     "origin_ucs": (dx * 6000, 320.0, 600.0)}
            for eye, dx in (("left", -0.005), ("right", 0.005))}
    return sdk_gaze_dict(dev_us, sys_us, eyes)


def sdk_display_area():
    """The tracker's display area as the SDK's own DisplayArea (a 520 x 310 mm display)."""
    from tobiiresearch.implementation.DisplayArea import DisplayArea

    return DisplayArea({"top_left": (-260.0, 330.0, 0.0), "top_right": (260.0, 330.0, 0.0),
                        "bottom_left": (-260.0, 20.0, 0.0)})


class FakeEyeTracker:
    """Stands in for tobii_research.EyeTracker: holds subscriptions and calls them from its own
    thread, as the SDK does: play() sends a stream at `rate` Hz in bursts, leaving out the samples
    of a gap and of a connection outage it announces with notifications; look_at streams gaze at
    the display point look_at() returns, `offset_mm` to its right (calibration and validation);
    send() hands over given samples (real recorded ones, tobii_sdk_double.dicts_from_recording)."""

    def __init__(self, rate=120, look_at=None, offset_mm: float = 5.0, noise_mm: float = 0.5,
                 serial: str = "TPFC2-010206235"):
        self.serial_number, self.address, self.model = serial, f"tobii-prp://{serial}", "Tobii Pro Fusion"
        self.device_name = "fake fusion"
        self.device_capabilities = ("capability_has_gaze_data", "capability_has_eye_openness_data")
        self.rate = rate
        self.subs = {}
        self.look_at, self.offset_mm, self.noise_mm = look_at, offset_mm, noise_mm
        self._stop = threading.Event()
        if look_at is not None:
            threading.Thread(target=self._stream, daemon=True).start()

    def get_display_area(self):
        return sdk_display_area()

    def close(self):
        self._stop.set()

    def send(self, dicts) -> None:
        for d in dicts:
            self._send("eyetracker_gaze_data", d)

    def _stream(self):
        from emer_live.ui.validation import display_to_ucs

        rng = np.random.default_rng(0)
        t_us = 0
        while not self._stop.wait(1 / self.rate):
            t_us += int(1e6 / self.rate)
            target = display_to_ucs(self.look_at() or (0.5, 0.5), sdk_display_area())
            eyes = {}
            for eye, x in (("left", -30.0), ("right", 30.0)):
                point = target + np.array([self.offset_mm, 0, 0]) + rng.normal(0, self.noise_mm, 3) * [1, 1, 0]
                eyes[eye] = {"display": (0.5, 0.5), "gaze_ucs": tuple(point), "pupil": 3.0,
                             "origin_ucs": (x, 150.0, 600.0)}
            gaze = sdk_gaze_dict(t_us, t_us, eyes)
            position = {"left_user_position": (0.45, 0.5, 0.5), "left_user_position_validity": 1,
                        "right_user_position": (0.55, 0.5, 0.5), "right_user_position_validity": 1}
            for what, cbs in list(self.subs.items()):
                for cb in list(cbs):
                    cb(position if "user_position" in what else gaze)

    def get_all_gaze_output_frequencies(self):
        return (60.0, 120.0, 250.0, 600.0, 1200.0)

    def get_gaze_output_frequency(self):
        return float(self.rate)

    def set_gaze_output_frequency(self, f):
        self.rate = f

    def subscribe_to(self, kind, callback, as_dictionary=False):
        assert as_dictionary
        self.subs.setdefault(kind, []).append(callback)

    def unsubscribe_from(self, kind, callback=None):
        self.subs.pop(kind, None)

    def _send(self, kind, d):
        for cb in self.subs.get(kind, []):
            cb(d)

    def _note(self, name, **extra):
        self._send(name.lower(), {"notification_type": name.lower(),
                                  "system_time_stamp": fake_clock_us(), **extra})

    def play(self, n, gap, outage, on_done):
        """Send samples 0..n-1 except those in range `gap` and `outage`; returns the thread."""
        period_us = 1e6 / self.rate
        dev0 = 5_000_000

        def run():
            t0 = time.monotonic()
            i = 0
            while i < n:
                due = int((time.monotonic() - t0) * self.rate) + 1
                while i < min(due, n):
                    if i == outage.start:
                        self._note("EYETRACKER_NOTIFICATION_CONNECTION_LOST")
                    if i == outage.stop:
                        self._note("EYETRACKER_NOTIFICATION_CONNECTION_RESTORED")
                        self._note("EYETRACKER_NOTIFICATION_STREAM_BUFFER_OVERFLOW")
                        self._send("eyetracker_stream_errors", {"system_time_stamp": fake_clock_us(),
                                   "error": "stream_error_internal_error", "source": "stream_error_source_stream_pump",
                                   "message": "test"})
                    if i not in gap and i not in outage:
                        dev = dev0 + int(round(i * period_us))
                        self._send("eyetracker_gaze_data", _gaze_dict(i, dev, fake_clock_us()))
                        self._send("eyetracker_eye_openness_data", {
                            "device_time_stamp": dev, "system_time_stamp": fake_clock_us(),
                            "left_eye_validity": 1, "left_eye_openness_value": 11.5,
                            "right_eye_validity": 0, "right_eye_openness_value": math.nan})
                    i += 1
                time.sleep(0.004)
            on_done()

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th


def fake_clock_us():
    return time.monotonic_ns() // 1000 + SYS_OFFSET_US


def _fake_sdk(tracker):
    sdk = types.SimpleNamespace(**{n: n.lower() for n in NAMES})
    sdk.find_all_eyetrackers = lambda: (tracker,)
    sdk.get_system_time_stamp = fake_clock_us
    sdk.EyeTracker = lambda address: tracker
    return sdk


