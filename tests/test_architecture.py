"""src/architecture.py: the one description every network is built from (SPEC §2–§3)."""
import numpy as np
import pytest
import mindspore as ms

from src.architecture import DISCRIMINATOR, GENERATOR, GeneratorArch, Upsampler
from src.fast_generator import FastGenerator
from src.model import Generator, MultiDiscriminator, count_parameters
from tests.spec_reference import SPEC_G_NAMES


def test_zoo_table_gives_the_zoo_hop_names_and_context():
    assert GENERATOR.hop == 256  # 8 * 8 * 2 * 2
    assert sorted(f"{n}.{k}" for n in GENERATOR.conv_names() for k in ("weight", "bias")) == sorted(SPEC_G_NAMES)
    assert GENERATOR.context_frames() == 8  # the receptive field's reach: 6.6 frames back, 5.6 ahead


def test_context_is_enough_and_not_far_too_much():
    """The derived context makes a frame's audio independent of input further away: change the input
    at `context` frames from a frame and its audio must not move; change it closer and it does."""
    ms.set_seed(0)
    net = FastGenerator.from_generator(Generator())
    rng = np.random.default_rng(0)
    mel = rng.uniform(-1, 1, (1, 80, 40)).astype(np.float32)
    far = mel.copy()
    c = GENERATOR.context_frames()
    far[:, :, 20 + c:] += 1.0  # everything from `context` frames after frame 20 on
    base, moved = net(ms.Tensor(mel)).asnumpy()[0, 0], net(ms.Tensor(far)).asnumpy()[0, 0]
    hop = GENERATOR.hop
    np.testing.assert_array_equal(base[: 21 * hop], moved[: 21 * hop])
    near = mel.copy()
    near[:, :, 20 + c - 3:] += 1.0
    assert not np.array_equal(base[: 21 * hop], net(ms.Tensor(near)).asnumpy()[0, 0, : 21 * hop])


def test_another_table_builds_every_path_consistently():
    """A smaller, different generator from the same code: model, fast graph and hop agree."""
    arch = GeneratorArch(mel_channels=16, channels=32, upsamplers=(Upsampler(4, 8, 2), Upsampler(2, 4, 1)),
                         dilations=(1, 3))
    assert arch.hop == 8
    ms.set_seed(1)
    plain = Generator(arch=arch)
    plain.set_train(False)
    fast = FastGenerator.from_generator(plain)
    x = ms.Tensor(np.random.default_rng(1).uniform(-1, 1, (2, 16, 9)).astype(np.float32))
    want = plain(x).asnumpy()
    assert want.shape == (2, 1, 9 * arch.hop)
    np.testing.assert_allclose(fast(x).asnumpy(), want, atol=1e-5)
    names = {p.name for p in plain.get_parameters()}
    assert names == {f"{n}.{k}" for n in arch.conv_names() for k in ("weight", "bias")}


def test_narrowed_discriminator_keeps_the_shape_of_the_zoo_one():
    small = MultiDiscriminator(DISCRIMINATOR.narrowed(16))
    full_names = [p.name for p in MultiDiscriminator().get_parameters()]
    assert [p.name for p in small.get_parameters()] == full_names
    assert count_parameters(small) < count_parameters(MultiDiscriminator()) / 100
    outputs = small(ms.Tensor(np.zeros((1, 1, 4096), np.float32)))
    assert len(outputs) == DISCRIMINATOR.scales and all(len(o) == len(DISCRIMINATOR.layers) for o in outputs)
    assert outputs[0][-1].shape[1] == 1  # the score map keeps one channel


@pytest.mark.parametrize("module", ["src.onnx_graph", "src.windows", "src.features", "src.architecture"])
def test_description_and_numpy_paths_do_not_load_mindspore(module):
    import subprocess
    import sys
    from tests.structure import ROOT

    code = f"import sys, {module}; sys.exit(1 if 'mindspore' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
