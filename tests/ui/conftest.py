from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from emer_live.ui.controller import Built, LiveController, SourceChoice
from emer_live.ui.main_window import MainWindow
from tests.ui.doubles import FakeRunner


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """A main window whose controller builds FakeRunners; `builds` records each SourceChoice."""

    def make(runner_factory=FakeRunner, build=None, choice=None, **kw):
        builds = []

        def default_build(c):
            builds.append(c)
            return Built(None, None, None)

        ctl = LiveController(choice or SourceChoice("demo", "simulated", ""), build=build or default_build,
                             make_runner=lambda built, sinks, hz: runner_factory())
        win = MainWindow(ctl, settings=settings, **kw)
        win.builds = builds
        qtbot.addWidget(win)
        win.show()
        return win

    return make
