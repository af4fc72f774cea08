"""The window's models, free of Qt: what every panel, the headline, the banner, the status bar and
the recording and review bars must show, computed from plain inputs (the runner's or the review
player's snapshot, its predictions, the clock). `emer_live/ui/` only wires widgets to them, so
every rule here is tested without a display.

- states.py     one panel's state and reason (live, collecting, ended, ...)
- panels.py     PanelModel: the runner's snapshots and predictions -> every panel's state, the
                headline, the FER and ER readings, the status texts
- recording.py  RecordingModel: whether R can record now, the markers / stimuli / self-assessment
                bookkeeping of the session being recorded, the last session
- player.py     SessionPlayer: a recorded session at a position (it stands in for the runner)
- review.py     ReviewModel: a recorded session's states at any moment, through the same
                PanelModel the live window uses, so review shows what live showed
"""
