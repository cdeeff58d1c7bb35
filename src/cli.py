"""What every entry point does around its work: user errors become one `error:` line, and a device
target the installed MindSpore cannot use is refused before MindSpore's context is touched.

    def main(argv=None):
        return run_main(lambda: work(get_config(argv)))

Only `src.errors.UserError` (and an OSError about a named file: a full disk, a read-only folder)
is turned into one line; any other exception is a bug and keeps its traceback.
"""
import logging
import sys

from src.errors import ConfigError, UserError, first_line

DEVICE_TARGETS = ("CPU", "GPU", "Ascend")


def error_line(error):
    """The one line a user sees for `error` (a UserError, or an OSError naming a file)."""
    if isinstance(error, OSError) and not isinstance(error, UserError):
        return f"error: {error.filename}: {error.strerror or first_line(error)}"
    return f"error: {first_line(error)}"


def run_main(work, interrupted=None):
    """Run `work()`; a UserError (or an OSError naming its file) exits with one `error:` line on stderr.
    `interrupted`: the line printed (exit status 130 as shells do) for Ctrl-C, when the tool has one."""
    try:
        return work()
    except UserError as e:
        raise SystemExit(error_line(e)) from None
    except OSError as e:
        if e.filename is None:
            raise
        raise SystemExit(error_line(e)) from None
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        print(interrupted, file=sys.stderr)
        raise SystemExit(130) from None


def installed_devices():
    """The device targets the installed MindSpore package was built for ("CPU" always)."""
    import mindspore as ms

    found = []
    # is_available logs two warnings per missing backend (plugin load errors); the ConfigError
    # below says the same in one line.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        for target in DEVICE_TARGETS:
            try:
                ok = ms.hal.is_available(target)
            except Exception:  # pylint: disable=broad-except  (older or newer API: treat as absent)
                ok = target == "CPU"
            if ok:
                found.append(target)
    finally:
        logging.disable(previous)
    return found


def check_device_target(target):
    """ConfigError unless `target` is one of DEVICE_TARGETS and the installed MindSpore can run it.

    Running the zoo's Ascend or GPU command on the CPU build otherwise ends in a long C++ traceback
    from MindSpore's context; one line saying which build is installed is what helps."""
    if target not in DEVICE_TARGETS:
        raise ConfigError(f"device_target must be one of {', '.join(DEVICE_TARGETS)}, got {target!r}")
    if target == "CPU":
        return
    available = installed_devices()
    if target not in available:
        import mindspore as ms

        raise ConfigError(f"device_target {target}: the installed mindspore {ms.__version__} is a "
                          f"{'/'.join(available)} build; install MindSpore's {target} package on a machine "
                          f"with that device, or run with --device_target CPU")
