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


@pytest.fixture(scope="session")
def zoo_ckpt(tmp_path_factory):
    """A randomly initialised zoo generator saved as a generator-only checkpoint (no trained model
    exists here); read-only for the tests that share it."""
    from src.checkpoint import save_checkpoint
    from src.model import Generator

    ms.set_seed(11)
    path = tmp_path_factory.mktemp("zoo_ckpt") / "melgan_random.ckpt"
    save_checkpoint(Generator(), str(path))
    return str(path)


@pytest.fixture(scope="session")
def zoo_generator(zoo_ckpt):
    """zoo_ckpt loaded as a plain Generator in inference mode (do not change its weights)."""
    from src.model import load_generator

    return load_generator(zoo_ckpt)
