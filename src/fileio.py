"""File chores every entry point shares: atomic writes, the writability probe, cleaning up the
temp files of a killed run, and the input-file check. Standard library (and NumPy) only.

Every output is written as `.NAME.XXXXXX.tmp` beside NAME and renamed into place, so a kill at any
moment leaves either the previous file or the new one, never half of one; `remove_stale_temps`
removes what a killed run left behind.
"""
import os
import re
import tempfile

from src.errors import OutputError, UserError

_UMASK = os.umask(0)
os.umask(_UMASK)
TEMP_SUFFIX = ".tmp"


def temp_path(path, extension=""):
    """A new, empty temp file beside `path` (`.NAME.XXXXXX.tmp`, then `extension` for writers that want
    to see one), with the mode open() would give."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX + extension,
                               dir=directory)
    os.close(fd)
    # mkstemp makes the file private (0600); outputs get the usual mode.
    os.chmod(tmp, 0o666 & ~_UMASK)
    return tmp


def write_atomically(path, write, written_as=(), extension=""):
    """write(tmp) to a temp file beside `path`, then rename it into place; never a half-written file.

    `write` may write `tmp` itself or, like MindSpore's savers, `tmp` + an extension of its own
    (`written_as`): whichever exists is renamed. `extension` ends the temp name, for readers that check
    it (mindspore.load wants `.mindir`). Nothing is left behind on failure.
    """
    tmp = temp_path(path, extension)
    candidates = (tmp,) + tuple(tmp + ext for ext in written_as)
    try:
        write(tmp)
        renamed = [c for c in candidates[1:] if os.path.exists(c)]
        os.replace(renamed[0] if renamed else tmp, path)
    finally:
        for leftover in candidates:
            if os.path.exists(leftover):
                os.remove(leftover)


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    write_atomically(path, write)


def write_bytes(path, data):
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    write_atomically(path, write)


def save_npy(path, array):
    """np.save atomically."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    write_atomically(path, write)


def check_writable(directory, what="output"):
    """Create `directory` and prove a file can be written there, before any long work; one line otherwise."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write_test."):
            pass
    except OSError as e:
        raise OutputError(f"{directory}: cannot write the {what} there ({e.strerror or e})") from None


def remove_stale_temps(directory, prefix=""):
    """Delete the temp files (`.PREFIX*.tmp`) that killed runs left in `directory`; returns their names.
    Call before this run writes anything there."""
    # a writer that insists on its own extension (MindSpore's savers) appends it to the temp name
    pattern = re.compile(r"\." + re.escape(prefix) + r".*" + re.escape(TEMP_SUFFIX) + r"(\.[A-Za-z]+)?$")
    removed = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if pattern.match(name):
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            removed.append(name)
    return removed


def check_input_file(path, what, error=UserError):
    """One-line `error` unless `path` is an existing, non-empty file (`what`: "checkpoint", "model", ...)."""
    path = str(path)
    if not os.path.exists(path):
        raise error(f"{path}: {what} file not found")
    if os.path.isdir(path):
        raise error(f"{path}: is a directory, not a {what} file")
    if os.path.getsize(path) == 0:
        raise error(f"{path}: {what} file is empty")
