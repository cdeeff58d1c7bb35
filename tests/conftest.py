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
