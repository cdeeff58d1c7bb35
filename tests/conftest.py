import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _pin_xdist_worker():
    """One core per xdist worker (scripts/run_tests.sh starts one per core), before any thread exists:
    MindSpore's idle pool threads spin on sched_yield between the small operators tests run, and
    with two workers each spinning on the other's core both ran ~1.5x slower (measured: 5 PYNATIVE
    steps of the small trainer, two processes at once, 8.9-9.2 s unpinned, 5.8-6.1 s pinned).
    Subprocesses a test starts inherit the core."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    cores = sorted(os.sched_getaffinity(0))
    if worker.startswith("gw") and int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) <= len(cores):
        os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


_pin_xdist_worker()

import src  # noqa: E402,F401  (first: it fixes oneDNN's CPU dispatch before MindSpore runs a kernel)
import mindspore as ms  # noqa: E402
from src import cpu_dispatch  # noqa: E402

cpu_dispatch.set_device("CPU")  # as every entry point does

# xdist work units (scripts/run_tests.sh: `--dist loadscope`): one per module, except that the modules
# using the compiled small trainer (`shared_trainer`, ~28 s of CPU to compile in each worker that uses
# it) form one unit, so that one worker compiles it. Units go longest first (collection order,
# `--no-loadscope-reorder`; measured wall seconds on 2 cores in the comments), so that the last ones
# are short and both workers finish together (measured: the two used to end 20-30 s apart).
SHARED_TRAINER_MODULES = {path.name for path in pathlib.Path(ROOT, "tests").glob("test_*.py")
                          if "shared_trainer" in path.read_text(encoding="utf-8")}
LONGEST_FIRST = ("shared_trainer",  # 110 s
                 "test_cpp_infer.py", "test_backends.py", "test_feature_settings.py",  # 50-70 s
                 "test_distributed.py", "test_eval.py", "test_export.py", "test_inference.py",  # 40-55 s
                 "test_settings.py", "test_train_py.py", "test_preprocess.py", "test_cpu_dispatch.py",  # 25-40 s
                 "test_model.py", "test_architecture.py", "test_metrics.py", "test_backend_choice.py")  # 4-8 s


def work_unit(nodeid):
    module = os.path.basename(nodeid.split("::", 1)[0])
    return "shared_trainer" if module in SHARED_TRAINER_MODULES else module


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))  # stable: tests keep their order


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling  # pylint: disable=import-outside-toplevel

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid)

    return WorkUnits(config, log)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def context_mode():
    """Every test starts in the session's mode (PYNATIVE, MindSpore's default), whatever the one before
    it ran: src.training sets the mode from its config, and a test that trained in GRAPH mode and left it
    so made the later tests of its worker compile a graph per call (measured: tests/test_spectral_loss.py
    3 s after it in PYNATIVE, 25 s in GRAPH)."""
    mode = ms.get_context("mode")
    yield
    if ms.get_context("mode") != mode:
        ms.set_context(mode=mode)


@pytest.fixture
def graph_mode():
    """Training runs in graph mode (src.training sets it from the config); `context_mode` gives the
    next test its mode back."""
    ms.set_context(mode=ms.GRAPH_MODE)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """preprocess.py's layout: DATASET/train (wav + mel, 6 noise clips), DATASET/val (one mel) and
    DATASET/val_wav (its reference, a chirp)."""
    from src.audio import read_audio, write_wav  # pylint: disable=import-outside-toplevel
    from src.features import ZOO  # pylint: disable=import-outside-toplevel
    from src.fileio import save_npy  # pylint: disable=import-outside-toplevel
    from tests.corpus import make_train_folder  # pylint: disable=import-outside-toplevel

    root = tmp_path_factory.mktemp("dataset")
    # batch 2: 3 steps per epoch, as 2 ranks of batch 1 (test_distributed); 4 steps cross an epoch
    make_train_folder(root / "train", [9000, 12000, 8000, 15000, 10000, 11000], seed=1)
    t = np.arange(int(0.7 * 22050)) / 22050.0
    write_wav(str(root / "val_wav" / "v1.wav"), (0.3 * np.sin(2 * np.pi * 200 * t * (1 + 0.3 * t))).astype(np.float32))
    save_npy(str(root / "val" / "v1.npy"), ZOO.log_mel(read_audio(str(root / "val_wav" / "v1.wav"))[0]))
    return root


@pytest.fixture(scope="session")
def shared_trainer():
    """The small trainer every in-process training test shares (tests/trainers.py: TINY shapes, the
    RECIPE options, 2 warm-up steps), compiled once; `shared_trainer.fresh()` gives it back as built."""
    from tests.trainers import RECIPE, TINY, SharedTrainer  # pylint: disable=import-outside-toplevel

    ms.set_seed(0)
    shared = SharedTrainer([*TINY, *RECIPE])
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def zoo_ckpt(tmp_path_factory):
    """A randomly initialised zoo generator saved as a generator-only checkpoint (no trained model
    exists here); read-only for the tests that share it."""
    from src.checkpoint import save_checkpoint  # pylint: disable=import-outside-toplevel
    from src.model import Generator  # pylint: disable=import-outside-toplevel

    ms.set_seed(11)
    path = tmp_path_factory.mktemp("zoo_ckpt") / "melgan_random.ckpt"
    save_checkpoint(Generator(), str(path))
    return str(path)


@pytest.fixture(scope="session")
def zoo_generator(zoo_ckpt):
    """zoo_ckpt loaded as a plain Generator in inference mode (do not change its weights)."""
    from src.model import load_generator  # pylint: disable=import-outside-toplevel

    return load_generator(zoo_ckpt)


@pytest.fixture(scope="session", autouse=True)
def backend_choice_cache(tmp_path_factory):
    """--backend auto measures the runtimes once per machine and keeps the result in a cache folder:
    the tests (and the processes they start) keep theirs in a temporary one, measured once per run
    (~14 s of CPU): one folder for all xdist workers, beside their own temporary folders."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "melgan_cache"
    folder.mkdir(exist_ok=True)
    os.environ["MELGAN_CACHE_DIR"] = str(folder)
    yield os.environ["MELGAN_CACHE_DIR"]
