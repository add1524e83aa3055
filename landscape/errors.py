"""User-facing errors: one line that names the field, file or run at fault.

The CLI prints ``str(error)`` of any :class:`LandscapeError` without a traceback;
anything else is a bug and keeps its traceback.
"""


class LandscapeError(Exception):
    """Base class for errors caused by input the user can fix."""


class ConfigError(LandscapeError, ValueError):
    """A config field is missing, unknown, of the wrong type or out of range."""


class DataError(LandscapeError):
    """A dataset file is missing or not in the expected format."""


class StoreError(LandscapeError):
    """A run directory or one of its files is incomplete, corrupt or inconsistent."""


class AnalysisError(LandscapeError):
    """An analysis step was asked for something it cannot do (missing prerequisite, mismatch)."""


class SearchDiverged(LandscapeError):
    """A search produced a non-finite loss; the run stopped cleanly."""


class DamagedFileWarning(UserWarning):
    """A stored file (``path``) could not be read; the message names it and says what was done
    instead (ignored, or computed again). ``landscape analyze`` lists these in its summary."""

    def __init__(self, message: str, path) -> None:
        super().__init__(message)
        self.path = str(path)
