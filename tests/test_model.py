"""The generator and discriminator against SPEC §2–§3, independent of src/model.py's code."""
import numpy as np
import pytest
import mindspore as ms

from src.model import Generator, MultiDiscriminator, count_parameters
from tests.spec_reference import SPEC_G_NAMES, numpy_generator


@pytest.fixture(scope="module")
def generator():
    ms.set_seed(3)
    net = Generator(0.2)
    # Random non-zero biases too, so that a bias bug cannot hide behind zero initialisation.
    rng = np.random.default_rng(5)
    for prm in net.get_parameters():
        if prm.name.endswith("bias"):
            prm.set_data(ms.Tensor(rng.normal(0, 0.05, prm.shape).astype(np.float32)))
    net.set_train(False)
    return net


def test_parameter_counts():
    assert count_parameters(Generator(0.2)) == 4_260_257
    assert count_parameters(MultiDiscriminator()) == 78_445_263


def test_parameter_names_and_4d_layout_are_the_public_checkpoints(generator):
    shapes = {p.name: p.shape for p in generator.get_parameters()}
    assert sorted(shapes) == sorted(SPEC_G_NAMES)
    assert shapes["conv1d_1.conv.weight"] == (512, 80, 1, 7)  # (out, in, 1, k)
    assert shapes["conv1dtran_1.conv.weight"] == (512, 256, 1, 16)  # (in, out, 1, k)
    assert shapes["rses_4.block3.2.conv.weight"] == (32, 32, 1, 3)
    assert shapes["conv1d_2.conv.weight"] == (1, 32, 1, 7)


def test_initialisation_is_xavier_uniform_with_zero_bias():
    ms.set_seed(1)
    net = Generator(0.2)
    for prm in net.get_parameters():
        data = prm.asnumpy()
        if prm.name.endswith("bias"):
            assert np.all(data == 0), prm.name
        else:
            assert data.std() > 0, prm.name


@pytest.mark.parametrize("frames", [1, 2, 7, 240])
def test_output_length_is_256_per_frame(generator, frames):
    mel = np.random.default_rng(frames).normal(size=(1, 80, frames)).astype(np.float32)
    out = generator(ms.Tensor(mel)).asnumpy()
    assert out.shape == (1, 1, 256 * frames)
    assert np.all(np.abs(out) <= 1.0)


@pytest.mark.parametrize("frames", [3, 10])
def test_generator_equals_numpy_reference(generator, frames):
    params = {p.name: p.asnumpy().astype(np.float64) for p in generator.get_parameters()}
    mel = np.random.default_rng(10 + frames).normal(size=(80, frames)).astype(np.float32)
    ours = generator(ms.Tensor(mel[None])).asnumpy()[0, 0]
    ref = numpy_generator(params, mel.astype(np.float64))[0]
    assert ref.shape == ours.shape
    assert np.max(np.abs(ours - ref)) <= 1e-4


def test_discriminator_outputs_per_scale():
    ms.set_seed(2)
    net = MultiDiscriminator()
    net.set_train(False)
    wav = np.random.default_rng(0).uniform(-1, 1, size=(2, 1, 8192)).astype(np.float32)
    outs = net(ms.Tensor(wav))
    assert len(outs) == 3
    expected_channels = [16, 64, 256, 1024, 1024, 1024, 1]
    for scale, feats in enumerate(outs):
        assert len(feats) == 7
        length = 8192 // (2 ** scale)
        assert [f.shape[1] for f in feats] == expected_channels
        assert feats[0].shape[2] == length  # conv1 keeps the length (pad 7, k15)
        assert feats[1].shape[2] == (length + 3) // 4
