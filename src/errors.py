"""One family for the errors a user can cause: bad input, bad config, a bad or missing file.

Every entry point turns a `UserError` into one `error: ...` line naming the file or key
(src/cli.py); anything else is a bug somewhere (ours or the framework's) and keeps its traceback.
Deliberately not a ValueError: a framework's ValueError must never be mistaken for the user's.
"""


class UserError(Exception):
    """A problem the user can fix; the message is one line naming the file or key."""


class ConfigError(UserError):
    """A config key or command-line value that cannot be honoured."""


class AudioError(UserError):
    """Bad audio or feature input (unreadable, empty, non-finite, wrong shape)."""


class DatasetError(UserError):
    """A dataset folder that cannot be trained on (layout, pairing, size)."""


class CheckpointError(UserError):
    """A checkpoint that cannot be used (missing, damaged, not this network)."""


class BackendError(UserError):
    """An inference backend that cannot run this source at this precision here."""


class OutputError(UserError):
    """An output location that cannot be written."""


def first_line(error):
    """The first line of an exception's message (its type name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
