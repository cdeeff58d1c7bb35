import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import src  # noqa: E402,F401  (first: it fixes oneDNN's CPU dispatch before MindSpore runs a kernel)
import mindspore as ms  # noqa: E402

ms.set_device("CPU")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def graph_mode():
    """Training runs in graph mode (src.training sets it from the config); give other tests theirs back."""
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=mode)


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
