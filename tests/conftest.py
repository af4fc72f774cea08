"""Shared fixtures. Real recordings made by others live in ../shared/data beside the checkout;
tests that need them skip with a stated reason when that folder is absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The app logs to the user's data folder; tests log to a folder of their own.
os.environ.setdefault("EMER_LIVE_LOG_DIR", str(Path(tempfile.gettempdir()) / f"emer-live-test-logs-{os.getpid()}"))
SHARED_DATA = Path(os.environ.get("EMER_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (set EMER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_video(shared_data) -> Path:
    return shared_data / "video" / "WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="session")
def tx300_files(shared_data) -> list[Path]:
    return sorted((shared_data / "eyetracking" / "i2mc_tobii_tx300").glob("participant*/*.tsv"))


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test with Qt widgets has closed them, collect their garbage here, in the GUI thread:
    left to the automatic collector, it can run in a later test's worker thread (a session writer)
    and destroy Qt objects there, which deadlocks Qt."""
    yield
    if {"qtbot", "qapp"} & set(getattr(item, "fixturenames", ())):
        import gc

        gc.collect()
