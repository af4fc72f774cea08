"""Source specs as the command line names them."""

import numpy as np
import pytest

from emer_live.errors import SourceError
from emer_live.sources.factory import make_frame_source, make_gaze_source, parse_simulated_script
from emer_live.types import GazeSample, SourceEvent


def test_simulated_script_parsing():
    assert parse_simulated_script("") is None
    assert parse_simulated_script("happiness=5, Sadness") == [("happiness", 5.0), ("sadness", 10.0)]
    for bad in ("joy", "happiness=x", "happiness=-1"):
        with pytest.raises(SourceError):
            parse_simulated_script(bad)


def test_specs_pick_the_right_sources(tmp_path, real_video):
    assert make_gaze_source("none") is None
    g = make_gaze_source("simulated:fear=3")
    assert g.simulated and g.script == (("fear", 3.0),) and not g.realtime
    assert make_frame_source("demo").simulated
    assert make_frame_source(str(real_video)).kind == "video"
    assert make_frame_source(f"video:{real_video}", realtime=True).realtime
    for bad in ("webcam", "video:", f"video:{tmp_path}/nope.mp4", "camera:x"):
        with pytest.raises(SourceError):
            make_frame_source(bad)
    for bad in ("eyes", "tsv:", f"tsv:{tmp_path}/nope.tsv", "none:x"):
        with pytest.raises(SourceError):
            make_gaze_source(bad)
    with pytest.raises(SourceError, match="no gaze files"):
        make_gaze_source(f"tsv:{tmp_path}")


def test_gaze_folder_plays_back_to_back_on_one_clock(tx300_files):
    folder = tx300_files[0].parent
    src = make_gaze_source(f"tsv:{folder}")
    with src:
        items = list(src.samples())
    t = np.array([s.host_ns for s in items if isinstance(s, GazeSample)])
    n_files = len(list(folder.glob("*.tsv")))
    assert len(src.recordings) == n_files and src.info()["samples"] == len(t) == src.stats.delivered
    # Each file is its own recording: a stream break between two, never a silent join.
    breaks = [i for i in items if isinstance(i, SourceEvent) and i.kind == "stream_break"]
    assert len(breaks) == n_files - 1
    dt = np.diff(t)
    assert dt.min() > 0  # strictly increasing across file boundaries
    assert dt.max() < 50_000_000  # no invented gap between files (300 Hz data)
