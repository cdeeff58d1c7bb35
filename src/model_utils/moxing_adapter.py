"""ModelArts support (the zoo's moxing_adapter).

`moxing` exists only inside ModelArts; it is imported lazily, and only when `enable_modelarts` is
set. (The PyPI package of that name is unrelated: never install it.)
"""
import functools
import os
import zlib

from src.errors import ConfigError
from src.model_utils import config as config_module

_global_sync_count = 0


def _moxing():
    try:
        import moxing  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ConfigError("enable_modelarts is set but the ModelArts 'moxing' module is not available "
                          "(it exists only inside ModelArts)") from None
    return moxing


def get_device_id():
    return int(os.getenv("DEVICE_ID", "0"))


def get_device_num():
    return int(os.getenv("RANK_SIZE", "1"))


def get_rank_id():
    return int(os.getenv("RANK_ID", "0"))


def get_job_id():
    job_id = os.getenv("JOB_ID")
    return job_id if job_id else "default"


def sync_data(from_path, to_path):
    """Copy from_path to to_path once per server: the first device copies, the others wait."""
    mox = _moxing()
    global _global_sync_count
    # One lock per (job, source, destination): a lock left by an earlier job must not skip this copy.
    key = zlib.crc32(f"{get_job_id()}|{from_path}|{to_path}".encode())
    sync_lock = f"/tmp/copy_sync.lock{_global_sync_count}.{key:08x}"
    _global_sync_count += 1
    if get_device_id() % min(get_device_num(), 8) == 0 and not os.path.exists(sync_lock):
        print(f"[modelarts] copying {from_path} -> {to_path}", flush=True)
        mox.file.copy_parallel(from_path, to_path)
        try:
            os.mknod(sync_lock)
        except OSError:
            pass
    while not os.path.exists(sync_lock):
        import time  # pylint: disable=import-outside-toplevel
        time.sleep(1)


def moxing_wrapper(pre_process=None, post_process=None, config=None):
    """Decorator: on ModelArts copy inputs in before `run_func` and outputs out after it.

    `config` is the run's Config (train.py builds its own from argv); default: the global one.
    """
    explicit_config = config

    def wrapper(run_func):
        @functools.wraps(run_func)
        def wrapped_func(*args, **kwargs):
            # read at call time: importing this module parses nothing
            config = explicit_config if explicit_config is not None else config_module.config
            if config.enable_modelarts:
                if config.data_url:
                    sync_data(config.data_url, config.data_path)
                if config.checkpoint_url:
                    sync_data(config.checkpoint_url, os.path.dirname(config.checkpoint_file_path)
                              or config.checkpoint_file_path)
                if pre_process:
                    pre_process()
            result = run_func(*args, **kwargs)
            if config.enable_modelarts:
                if post_process:
                    post_process()
                if config.train_url:
                    outputs = [p for p in (config.save_checkpoint_path, config.output_path) if os.path.exists(p)]
                    for path in outputs:
                        print(f"[modelarts] copying {path} -> {config.train_url}", flush=True)
                        _moxing().file.copy_parallel(path, os.path.join(config.train_url, os.path.basename(os.path.normpath(path))))
            return result

        return wrapped_func

    return wrapper
