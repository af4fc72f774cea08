"""One palette for the whole app: ER always in one colour, FER in another, on a calm dark ground."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont

BG = "#1b1d21"  # window
PANEL = "#24272d"  # panel background
GRID = "#3a3e46"
TEXT = "#e8e9eb"
MUTED = "#9aa0a8"
ER = "#f2a541"  # genuine emotion (face + eyes): amber
FER = "#4cb8f5"  # facial expression: sky blue
GAP = "#e0607e"  # the gap between them: rose
WARN = "#f0c74a"
BAD = "#ef5b5b"
OK = "#6fcf7f"
GAZE = "#7ee0b5"

REPLAY = "#b48cf2"  # a recorded session playing: violet
# Panel states (window_model/states.py): green live, violet replay, amber waiting, grey ended/stopped, red wrong.
STATE_COLOURS = {"live": OK, "replay": REPLAY, "collecting": WARN, "no face": WARN, "unreliable": WARN,
                 "input ended": MUTED, "stopped": MUTED, "error": BAD,
                 "loading": MUTED}

STYLESHEET = f"""
QWidget {{ background: {BG}; color: {TEXT}; font-size: 13px; }}
QFrame#panel {{ background: {PANEL}; border-radius: 8px; }}
QLabel#title {{ color: {MUTED}; background: transparent; font-size: 12px; font-weight: 600; letter-spacing: 1px; }}
QLabel#banner {{ background: #4a3b12; color: {WARN}; font-weight: 700; padding: 4px 10px; border-radius: 6px; }}
QLabel#replay {{ background: #3b2d57; color: {REPLAY}; font-weight: 700; padding: 4px 10px; border-radius: 6px; }}
QLabel#feedback {{ color: {TEXT}; background: transparent; padding: 0 2px; }}
QLabel#failure {{ background: #5a1f1f; color: #ffd6d6; font-weight: 700; padding: 6px 10px; border-radius: 6px; }}
QDockWidget {{ color: {MUTED}; }}
QListWidget {{ background: {PANEL}; border: 1px solid {GRID}; }}
QLabel#hint {{ color: {MUTED}; }}
QCheckBox#consent {{ font-weight: 700; }}
QCheckBox::indicator {{ width: 18px; height: 18px; border: 2px solid {WARN}; border-radius: 3px; background: {PANEL}; }}
QCheckBox::indicator:checked {{ background: {OK}; border-color: {OK}; }}
QLabel#headline {{ font-size: 22px; font-weight: 700; color: {TEXT}; }}
QStatusBar {{ background: {PANEL}; color: {MUTED}; }}
QStatusBar QLabel {{ background: transparent; color: {TEXT}; padding: 0 8px; }}
QToolBar {{ background: {PANEL}; border: none; spacing: 4px; padding: 2px; }}
QToolButton {{ background: transparent; color: {TEXT}; padding: 4px 8px; border-radius: 4px; }}
QToolButton:hover {{ background: {GRID}; }}
QToolButton:disabled {{ color: #5c6068; }}
QFrame#panel QLabel {{ background: transparent; }}
QToolButton:checked {{ background: #34465c; color: {TEXT}; }}
QPushButton {{ background: {GRID}; border: none; padding: 5px 12px; border-radius: 4px; }}
QPushButton:hover {{ background: #4a4f59; }}
QPushButton:disabled {{ background: #2a2d33; color: #666b73; }}
QComboBox, QSpinBox, QLineEdit {{ background: {PANEL}; border: 1px solid {GRID}; padding: 3px; border-radius: 4px; }}
QGroupBox {{ border: 1px solid {GRID}; border-radius: 6px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED}; }}
"""


def qcolor(hex_colour: str, alpha: int = 255) -> QColor:
    c = QColor(hex_colour)
    c.setAlpha(alpha)
    return c


def font(size: int, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(size)
    f.setBold(bold)
    return f


# The time series panel's legend (its title line): drawn before the plots exist.
LEGEND_HTML = (f'<span style="color:{ER}">━ ER</span> &nbsp; '
               f'<span style="color:{FER}">━ FER</span> &nbsp; '
               f'<span style="color:{GAP}">━ gap &nbsp;▮ top classes disagree</span>')
