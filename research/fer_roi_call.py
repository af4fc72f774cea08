"""Can OpenCV's own detectMultiScale, restricted to the face's region and a band of scales, give the
full-frame detector's box cheaply? And how cheap can any exact box be?

    python research/fer_roi_call.py CLIP... [--frames 200]

Per clip, on every frame where `fer`'s full-frame detector (scale factor 1.1, 5 neighbours, 50 px
minimum) finds a face, with a stand-in landmark box derived from that box (x + 0.1w .. x + 0.9w,
y + 0.2h .. y + h):
- roi_call: detectMultiScale on the region around it (as fer's parameters, minSize/maxSize at
  0.6-2.0 times the landmark width). The region gets its own pyramid (its resized images are
  sampled on another grid than the whole frame's), so its detections differ by a pixel or more.
- roi_detector: the product's RoiHaarDetector (the full frame's own pyramid images, only the
  positions near the face), exact by construction.
- oracle: the cascade run only on the bounding rectangle of the positions where the face's own
  raw detections lie (known beforehand from a wide scan): a lower bound for any exact search,
  since these windows pass all 25 stages of the cascade.
Prints box equality with the full-frame box and p50 times (one core; the machine's load applies).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emer_live.features.face_box import RoiHaarDetector  # noqa: E402

WIN = 24


def gray_frames(path: Path, n: int):
    cap = cv2.VideoCapture(str(path))
    for _ in range(n):
        ok, img = cap.read()
        if not ok:
            break
        yield cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    cap.release()


def scan(cascade, small, x0, x1, y0, y1, lead=8):
    """Window positions (scale pixels) the cascade accepts in [x0, x1] x [y0, y1] of one pyramid
    image, every position read (the ROI doubled, as RoiHaarDetector does)."""
    xs = max(0, x0 - lead)
    sub = cv2.resize(small[y0:y1 + WIN, xs:x1 + WIN], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    found = cascade.detectMultiScale(sub, 2.0, 0, minSize=(2 * WIN,) * 2, maxSize=(2 * WIN,) * 2)
    return [(x // 2 + xs, y // 2 + y0) for x, y, _, _ in found if x // 2 + xs >= x0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--frames", type=int, default=200)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    det = RoiHaarDetector()
    cascade = det.cascade
    print(f"load average {os.getloadavg()[0]:.2f}")
    for clip in a.clips:
        n = eq_call = eq_roi = eq_oracle = 0
        t_call, t_roi, t_oracle = [], [], []
        for g in gray_frames(clip, a.frames):
            want = det.full_frame(g)
            if want is None:
                continue
            n += 1
            h, w = g.shape
            x, y, s, _ = want
            lb = (x + 0.1 * s, y + 0.2 * s, x + 0.9 * s, y + 1.0 * s)
            t = time.perf_counter()
            eq_roi += det(g, lb) == want
            t_roi.append(time.perf_counter() - t)
            t = time.perf_counter()
            bw, cx, cy = lb[2] - lb[0], (lb[0] + lb[2]) / 2, (lb[1] + lb[3]) / 2
            X0, Y0 = max(0, int(cx - 1.1 * bw)), max(0, int(cy - 1.2 * bw))
            X1, Y1 = min(w, int(cx + 1.1 * bw)), min(h, int(cy + 1.0 * bw))
            found = cascade.detectMultiScale(g[Y0:Y1, X0:X1], 1.1, 5, minSize=(max(50, int(0.6 * bw)),) * 2,
                                             maxSize=(int(2.0 * bw),) * 2)
            got = None
            if len(found):
                b = max(found, key=lambda r: r[2] * r[3])
                got = (int(b[0]) + X0, int(b[1]) + Y0, int(b[2]), int(b[3]))
            t_call.append(time.perf_counter() - t)
            eq_call += got == want
            # the oracle: each scale's raw positions from a wide scan, then only their bounding rectangle
            per = []
            for sc in det.scales(w, h):
                ws = int(np.rint(WIN * sc))
                if not 0.45 * s <= ws <= 2.2 * s:
                    continue
                sw, sh = int(np.rint(np.float32(w) / sc)), int(np.rint(np.float32(h) / sc))
                small = cv2.resize(g, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT)
                px, py, r = (x + s / 2) / sc - WIN / 2, (y + s / 2) / sc - WIN / 2, int(0.6 * s / sc) + 4
                pos = scan(cascade, small, max(0, int(px - r)), min(sw - WIN, int(px + r)),
                           max(0, int(py - r)), min(sh - WIN, int(py + r)))
                if pos:
                    per.append((sc, small, np.array(pos)))
            t = time.perf_counter()
            rects = []
            for sc, small, pos in per:
                (x0, y0), (x1, y1) = pos.min(0), pos.max(0)
                ws = int(np.rint(WIN * sc))
                rects += [[int(np.rint(np.float32(px) * sc)), int(np.rint(np.float32(py) * sc)), ws, ws]
                          for px, py in scan(cascade, small, int(x0), int(x1), int(y0), int(y1))]
            t_oracle.append(time.perf_counter() - t)
            grouped, _ = cv2.groupRectangles(rects, 5, 0.2)
            got = tuple(int(v) for v in max(grouped, key=lambda r: r[2] * r[3])) if len(grouped) else None
            eq_oracle += got == want
        ms = lambda ts: 1000 * float(np.median(ts))  # noqa: E731
        print(f"{clip.name} ({n} frames with a face): roi_call equal {eq_call}/{n}, p50 {ms(t_call):.2f} ms; "
              f"roi_detector equal {eq_roi}/{n}, p50 {ms(t_roi):.2f} ms; oracle equal {eq_oracle}/{n}, "
              f"p50 {ms(t_oracle):.2f} ms", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
