"""Inference: zoo window mode, fast generator, Vocoder API, chunked and streaming output."""
import numpy as np
import pytest

from src.windows import chunk_plan, merge_windows, num_windows, split_windows


# ---- zoo window mode (pure NumPy, shared with the C++ pre/post-processing) ----
@pytest.mark.parametrize("frames", [1, 100, 240, 241, 420, 450, 451, 1000])
def test_split_windows_shapes_and_normalisation(frames, rng):
    mel = rng.normal(-5, 2, (80, frames)).astype(np.float32)
    windows = split_windows(mel, 240)
    assert windows.dtype == np.float32 and windows.shape[1:] == (80, 240)
    assert windows.shape[0] == num_windows(frames, 240)
    # every frame is covered, windows start every 210 frames, padding is zero after normalisation
    rebuilt = np.zeros((80, (windows.shape[0] - 1) * 210 + 240), np.float32)
    for i, w in enumerate(windows):
        rebuilt[:, i * 210: i * 210 + 240] = w
    np.testing.assert_allclose(rebuilt[:, :frames], (mel + 5) / 5, rtol=0, atol=1e-6)
    assert np.all(rebuilt[:, frames:] == 0)
    assert (windows.shape[0] - 1) * 210 < frames  # no window made only of padding/overlap


def test_num_windows_is_minimal():
    assert [num_windows(t) for t in (1, 240, 241, 450, 451, 660, 661)] == [1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("frames", [50, 240, 300, 700])
def test_merge_windows_exact_length_and_crossfade(frames):
    count = num_windows(frames)
    # constant windows: a linear cross-fade of equal signals is that signal
    merged = merge_windows(np.full((count, 240 * 256), 0.25, np.float32), frames)
    assert merged.dtype == np.float32 and merged.shape == (frames * 256,)
    np.testing.assert_allclose(merged, 0.25, atol=1e-7)


def test_merge_windows_ramps_linearly_across_the_overlap():
    windows = np.stack([np.zeros(240 * 256, np.float32), np.ones(240 * 256, np.float32)])
    merged = merge_windows(windows, 450)
    seam = merged[210 * 256: 240 * 256]
    assert np.all(merged[: 210 * 256] == 0) and np.all(merged[240 * 256:] == 1)
    assert np.all(np.diff(seam) > 0)
    np.testing.assert_allclose(np.diff(seam), 1 / seam.size, atol=1e-6)
    np.testing.assert_allclose(seam[0] + seam[-1], 1.0, atol=1e-6)


def test_merge_windows_checks_its_input():
    with pytest.raises(ValueError, match="windows"):
        merge_windows(np.zeros((1, 240 * 256), np.float32), 300)
    with pytest.raises(ValueError, match="samples"):
        merge_windows(np.zeros((1, 100), np.float32), 10)


@pytest.mark.parametrize("few_shapes", [False, True])
@pytest.mark.parametrize("frames", [1, 56, 57, 64, 100, 120, 200, 240, 255, 256, 257, 300, 481, 487, 1000])
def test_chunk_plan_covers_each_frame_once_with_its_context(frames, few_shapes):
    plan = chunk_plan(frames, 240, 8, few_shapes)
    outputs = [f for _, _, out_start, out_end in plan for f in range(out_start, out_end)]
    assert outputs == list(range(frames))
    for in_start, in_end, out_start, out_end in plan:
        assert 0 <= in_start <= out_start and out_end <= in_end <= frames
        assert out_start - in_start >= min(8, out_start) and in_end - out_end >= min(8, frames - out_end)
    if frames > 256:  # every chunk but the last is one shape; the last reads a quarter span at most more
        assert {in_end - in_start for in_start, in_end, _, _ in plan[:-1]} == {256}
        assert plan[0][3] == 248  # the first chunk needs no context before the input's start
        in_start, in_end, out_start, _ = plan[-1]
        assert in_end == frames and (in_end - in_start) % 64 == 0 and 0 <= out_start - 8 - in_start < 64
        assert plan == chunk_plan(frames, 240, 8)  # few_shapes is about short inputs only
    elif few_shapes and frames >= 64:  # a short input too runs in the chunks' shapes: quarter spans
        assert {in_end - in_start for in_start, in_end, _, _ in plan} <= {64, 128, 192, 256}
    else:
        assert plan == [(0, frames, 0, frames)]


# ---- fast generator, Vocoder, chunking, streaming ----
import mindspore as ms  # noqa: E402

from src.audio import AudioError  # noqa: E402
from src.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from src.fast_generator import FastGenerator  # noqa: E402
from src.inference import Vocoder  # noqa: E402
from src.windows import CONTEXT_FRAMES  # noqa: E402
from src.model import Generator  # noqa: E402
from tests.spec_reference import numpy_generator  # noqa: E402


@pytest.fixture(scope="module")
def generator():
    ms.set_seed(7)
    g = Generator(0.2)
    g.set_train(False)
    return g


@pytest.fixture(scope="module")
def vocoder(generator):
    return Vocoder(generator, chunk_frames=60)


def _mel(frames, seed=0):
    return np.random.default_rng(seed).normal(-5, 2, (80, frames)).astype(np.float32)


def _plain(generator, normalized):
    """The plain Generator's one pass, in PYNATIVE mode (a graph compile per shape costs more than it runs)."""
    return generator(ms.Tensor(normalized[None])).asnumpy()[0, 0]


def test_fast_generator_equals_plain_and_spec(generator):
    fast = FastGenerator.from_generator(generator)
    x = (_mel(40) + 5) / 5
    want = _plain(generator, x)
    got = fast(ms.Tensor(x[None])).asnumpy()[0, 0]
    assert got.shape == (40 * 256,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # and against the independent NumPy implementation of SPEC §2
    params = {p.name: p.asnumpy().astype(np.float64) for p in generator.get_parameters()}
    np.testing.assert_allclose(fast(ms.Tensor(x[None, :, :6])).asnumpy()[0, 0],
                               numpy_generator(params, x[:, :6].astype(np.float64))[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("frames", [1, 7, 61, 241])
@pytest.mark.parametrize("mode", ["whole", "window"])
def test_output_length_is_exactly_256_per_frame(vocoder, frames, mode):
    audio = vocoder(_mel(frames), mode=mode)
    assert audio.dtype == np.float32 and audio.shape == (frames * 256,)
    assert np.all(np.abs(audio) <= 1)


def test_single_window_equals_plain_generator(generator, vocoder):
    mel = _mel(240, seed=1)
    np.testing.assert_allclose(vocoder(mel, mode="window"), _plain(generator, (mel + 5) / 5), rtol=0, atol=1e-5)
    short = _mel(100, seed=2)  # zero-padded after normalisation, output cut back
    padded = np.zeros((80, 240), np.float32)
    padded[:, :100] = (short + 5) / 5
    np.testing.assert_allclose(vocoder(short, mode="window"), _plain(generator, padded)[:100 * 256], rtol=0, atol=1e-5)


def test_whole_and_window_agree_away_from_seams(vocoder):
    mel = _mel(500, seed=3)  # windows start at 0, 210, 420
    whole, window = vocoder(mel, mode="whole"), vocoder(mel, mode="window")
    c = CONTEXT_FRAMES
    for lo, hi in ((0, 210 - c), (240 + c, 420 - c)):
        np.testing.assert_allclose(window[lo * 256: hi * 256], whole[lo * 256: hi * 256], rtol=0, atol=1e-5)
    # at the zero-padded end of the last window the zoo's mode really differs (the test can fail)
    assert np.abs(window[-c * 256:] - whole[-c * 256:]).max() > 1e-4


def test_chunked_output_equals_one_pass(generator, vocoder):
    mel = _mel(300, seed=4)
    one_pass = _plain(generator, (mel + 5) / 5)
    np.testing.assert_allclose(vocoder(mel), one_pass, rtol=0, atol=1e-5)  # 60-frame chunks
    too_little_context = Vocoder(generator, chunk_frames=60, context=2)(mel)
    assert np.abs(too_little_context - one_pass).max() > 1e-3  # context matters: the check is sensitive


def test_streaming_equals_one_pass_with_bounded_latency(generator, vocoder):
    mel = _mel(333, seed=5)
    one_pass = vocoder(mel)
    stream = vocoder.stream(chunk_frames=50)
    pieces, pushed, rng = [], 0, np.random.default_rng(0)
    while pushed < mel.shape[1]:
        n = int(rng.integers(1, 40))
        pieces.append(stream.push(mel[:, pushed: pushed + n]))
        pushed = min(pushed + n, mel.shape[1])
        emitted = sum(p.size for p in pieces)
        assert emitted >= (pushed - stream.latency_frames) * 256  # audio keeps up with the input
        assert stream.buffer.shape[1] <= 2 * stream.span + 40  # memory does not grow with the length
    pieces.append(stream.flush())
    np.testing.assert_allclose(np.concatenate(pieces), one_pass, rtol=0, atol=1e-5)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((79, 20), np.float32), "80 mel channels"),
    (np.full((80, 20), np.nan, np.float32), "NaN"),
    (np.zeros(80, np.float32), "2-D"),
])
def test_bad_mel_is_refused_with_its_name(vocoder, bad, match):
    with pytest.raises(AudioError, match=match) as info:
        vocoder(bad, name="utt_7.npy")
    assert "utt_7.npy" in str(info.value) and "\n" not in str(info.value)


# ---- the three checkpoint kinds ----
def _items(net, prefix=""):
    return [{"name": prefix + p.name, "data": p.data} for p in net.get_parameters()]


def test_three_checkpoint_kinds_load(tmp_path, generator):
    mel = _mel(30, seed=6)
    want = Vocoder(generator)(mel)
    zoo = tmp_path / "melgan_20-215_176000.ckpt"
    ms.save_checkpoint(generator, str(zoo))  # the public file: plain zoo names, no CRC
    g_only = tmp_path / "generator.ckpt"
    save_checkpoint(generator, str(g_only))
    training = tmp_path / "melgan-3_70.ckpt"  # train.py's layout: G + D under zoo names, optimizer states
    disc = [{"name": "dis1.conv1.1.conv.weight", "data": ms.Tensor(np.ones((16, 1, 1, 15), np.float32))},
            {"name": "avg1.conv.weight", "data": ms.Tensor(np.ones((1, 1, 1, 5), np.float32))}]
    opt = [{"name": "optimizer_g.moment1." + p.name, "data": ms.Tensor(np.zeros(p.shape, np.float32))}
           for p in generator.get_parameters()]
    save_checkpoint(_items(generator) + disc + opt, str(training), append_dict={"epoch": 3, "step": 70})
    for path in (zoo, g_only, training):
        voc = Vocoder.from_checkpoint(str(path), device_target="CPU", backend="mindspore")
        np.testing.assert_array_equal(voc(mel), want)
        np.testing.assert_array_equal(voc.generator.conv1d_1.conv.weight.asnumpy(),
                                      generator.conv1d_1.conv.weight.asnumpy())


def test_missing_parameter_other_network_and_missing_file_are_errors(tmp_path, generator, monkeypatch):
    monkeypatch.setenv("MELGAN_CACHE_DIR", str(tmp_path / "cache"))  # --backend auto's measurements
    partial = tmp_path / "partial.ckpt"
    save_checkpoint([i for i in _items(generator) if i["name"] != "rses_3.shortcut2.conv.weight"], str(partial))
    with pytest.raises(CheckpointError, match="rses_3.shortcut2.conv.weight"):
        Vocoder.from_checkpoint(str(partial))
    other = tmp_path / "resnet.ckpt"
    save_checkpoint([{"name": "layer1.0.conv1.weight", "data": ms.Tensor(np.ones((4, 4), np.float32))}], str(other))
    with pytest.raises(CheckpointError, match="resnet.ckpt.*not a MelGAN generator"):
        Vocoder.from_checkpoint(str(other))
    with pytest.raises(CheckpointError, match="nothere.ckpt.*not found"):
        Vocoder.from_checkpoint(str(tmp_path / "nothere.ckpt"))
    assert not (tmp_path / "cache").exists()  # the file is checked before the backends are measured


def test_features_that_cannot_be_log_mels_are_named_once(vocoder, capsys):
    db = 20 * _mel(120) / np.log(10)  # a "dB" mel: the audio is noise, so say so
    vocoder(db, name="db.npy")
    vocoder(db, name="db.npy")
    stream = vocoder.stream(chunk_frames=50)
    for start in range(0, 120, 40):
        stream.push(db[:, start:start + 40])
    stream.flush()
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(err) == 2 and "db.npy" in err[0] and "decibels" in err[0], err
    assert err[1].startswith("warning: streamed mel: ") and "decibels" in err[1]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_load_weights_takes_new_weights_without_a_new_net(fast):
    """train.py's learning curve refreshes the weights of one compiled net after each evaluation."""
    ms.set_seed(11)
    generator, other = Generator(), Generator()  # own ones: the plain net is the generator, overwritten
    generator.set_train(False)
    other.set_train(False)
    mel = np.random.default_rng(3).uniform(-8, 0, (80, 20)).astype(np.float32)
    vocoder = Vocoder(generator, fast=fast)
    before = vocoder(mel)
    net = vocoder.backend.net
    assert vocoder.load_weights(other).backend.net is net
    np.testing.assert_allclose(vocoder(mel), Vocoder(other, fast=fast)(mel), atol=1e-5)
    assert np.abs(vocoder(mel) - before).max() > 1e-3
