"""User-facing errors: each carries a message meant to be read by an experimenter, not a trace."""


class EmerError(Exception):
    """Base class: the message says what went wrong and, where possible, what to do."""


class SourceError(EmerError):
    """A camera, tracker, video or recording cannot be opened or read."""


class ModelError(EmerError):
    """A model file or its card is missing, corrupt or does not match what the app can feed."""


class RecordingError(EmerError):
    """A session folder cannot be written or read."""
