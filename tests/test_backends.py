"""src/backends: MindSpore, onnxruntime and OpenVINO give the checkpoint's Generator output in every
Vocoder mode; the direct ONNX graph has a dynamic frame axis; bf16 is refused or within its SNR;
missing packages and damaged model files are one line."""
import functools
import os
import shutil
import sys

import mindspore as ms
import numpy as np
import pytest

import export
from src import cpu_dispatch
from src.backends import BackendError, make_backend
from src.inference import RECENT_INPUTS, Vocoder
from src.metrics import snr_db
from src.model_utils.config import get_config
from tests.damage import damage_file

TOL = 1e-4
BF16_SNR_DB = 30  # docs/backends.md states bf16 output within 30 dB SNR of fp32 (measured ~40 dB)
FP32_BACKENDS = ("mindspore", "onnxruntime", "openvino")
BF16_HERE = cpu_dispatch.bf16_support()[0]


@pytest.fixture(scope="module")
def ckpt(zoo_ckpt):
    return zoo_ckpt


@pytest.fixture(scope="module")
def generator(zoo_generator):
    return zoo_generator


@pytest.fixture(scope="module")
def onnx_file(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "melgan"
    cfg = get_config(["--checkpoint_path", ckpt, "--file_format", "ONNX", "--file_name", str(out)])
    return export.export(cfg)


@pytest.fixture(scope="module")
def speech_mel():
    """A real-speech log-mel: one espeak-ng sentence (2.3 s), through the SPEC front end."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (setup.sh installs it)")
    import tempfile

    from src.audio import read_audio
    from src.features import ZOO
    from src.demo_corpus import make_demo_corpus

    with tempfile.TemporaryDirectory() as tmp:
        make_demo_corpus(tmp, num_utterances=1)
        audio, _ = read_audio(os.path.join(tmp, "wavs", sorted(os.listdir(os.path.join(tmp, "wavs")))[0]))
    return ZOO.log_mel(audio)


def _mel(frames, seed=0):
    return np.random.default_rng(seed).normal(-5, 2, (80, frames)).astype(np.float32)


def _one_pass(generator, mel):
    return generator(ms.Tensor(((mel + 5) / 5)[None])).asnumpy().ravel()


@functools.lru_cache(maxsize=None)
def _seeded(generator, frames):
    """_mel(frames, seed=frames) and the plain Generator's output for it, computed once (tests
    below feed the same input many times: ~0.4 s of CPU per pass)."""
    mel = _mel(frames, seed=frames)
    return mel, _one_pass(generator, mel)


# ---- fp32: every backend is the checkpoint's Generator, in every mode ----
@pytest.fixture(scope="module")
def reference(generator):
    """The plain Generator's output for the inputs below, computed once for all backends (~4 s)."""
    window, mel = _mel(240, seed=1), _mel(260, seed=2)
    return {"window": window, "mel": mel, "window_out": _one_pass(generator, window), "mel_out": _one_pass(generator, mel),
            "windowed_120": Vocoder(generator, mode="window", eval_length=120)(mel)}


@pytest.mark.parametrize("name", FP32_BACKENDS)
def test_backend_equals_generator_window_chunked_and_stream(name, ckpt, reference):
    backend = make_backend(name, ckpt, "fp32")
    got = backend(((reference["window"] + 5) / 5)[None])
    assert got.shape == (1, 240 * 256) and got.dtype == np.float32
    assert np.max(np.abs(got.ravel() - reference["window_out"])) <= TOL

    mel, want = reference["mel"], reference["mel_out"]
    vocoder = Vocoder(backend, chunk_frames=100)  # 2 chunks of one span (116 frames), a last one of 87
    chunked = vocoder(mel)
    assert chunked.shape == (260 * 256,) and np.max(np.abs(chunked - want)) <= TOL
    stream = vocoder.stream()
    pieces = [stream.push(mel[:, i:i + 33]) for i in range(0, 260, 33)] + [stream.flush()]
    assert np.max(np.abs(np.concatenate(pieces) - want)) <= TOL

    windowed = Vocoder(backend, mode="window", eval_length=120)(mel)
    assert windowed.shape == (260 * 256,) and np.max(np.abs(windowed - reference["windowed_120"])) <= TOL


def test_onnx_graph_is_2d_convs_and_conv_transposes_only_and_exact_for_odd_strides():
    """The graph form src/onnx_graph.py writes (2-D convs, native ConvTranspose: no Transpose/Reshape for
    OpenVINO to reorder around), exact also where the kernel is not a multiple of the stride (2s + 1)."""
    from src.architecture import GeneratorArch
    from src.model import Generator
    from src.onnx_graph import from_generator

    ms.set_seed(3)
    generator = Generator(arch=GeneratorArch.with_upsampling((5, 5, 4, 3)))
    generator.set_train(False)
    ops = {n.op_type for n in from_generator(generator).graph.node}
    assert ops == {"Unsqueeze", "Conv", "LeakyRelu", "ConvTranspose", "Add", "Squeeze", "Tanh"}
    mel = _mel(40, seed=4)
    want = _one_pass(generator, mel)
    for name in ("onnxruntime", "openvino"):
        got = make_backend(name, generator, "fp32")(((mel + 5) / 5)[None]).ravel()
        assert got.shape == (40 * 300,) and np.max(np.abs(got - want)) <= TOL


@pytest.mark.parametrize("name", ("onnxruntime", "openvino"))
def test_exported_dynamic_onnx_runs_two_lengths(name, onnx_file, generator):
    backend = make_backend(name, onnx_file, "fp32")
    assert backend.fixed_frames is None
    for frames in (240, 97):
        mel, want = _seeded(generator, frames)
        assert np.max(np.abs(backend(((mel + 5) / 5)[None]).ravel() - want)) <= TOL


def test_openvino_compiles_a_shape_once_it_recurs(ckpt, generator):
    backend = make_backend("openvino", ckpt, "fp32")
    for frames in (50, 61, 50):
        mel, want = _seeded(generator, frames)
        assert np.max(np.abs(backend(((mel + 5) / 5)[None]).ravel() - want)) <= TOL
    # 50 and 61 ran once through the dynamic-shape model; 50 recurred and got its own compiled model
    assert list(backend.requests) == [(1, 80, 50)]
    # a long input's last chunk reads a multiple of a quarter span (src/windows.last_chunk_start): with
    # 40-frame chunks (+ 2 x 8 context: 56 frames) the 17 frames after 80 read 28, from frame 69; on the
    # second input both shapes recur and get a compiled model
    mel, want = _seeded(generator, 97)
    for _ in range(2):
        assert np.max(np.abs(Vocoder(backend, chunk_frames=40)(mel) - want)) <= TOL
    assert list(backend.requests) == [(1, 80, 50), (1, 80, 56), (1, 80, 28)]
    # an input shorter than a span is cut into quarter spans (45 frames: 42 and 28), unless its length
    # is among the last RECENT_INPUTS inputs: then it runs whole, so that its own shape gets compiled
    (mel, want), vocoder = _seeded(generator, 45), Vocoder(backend, chunk_frames=40)
    for _ in range(3):
        assert np.max(np.abs(vocoder(mel) - want)) <= TOL
    assert list(backend.requests) == [(1, 80, 50), (1, 80, 56), (1, 80, 28), (1, 80, 45)]
    assert (1, 80, 42) in backend.seen_once
    # a length that comes back only after RECENT_INPUTS others (a corpus's) is cut again: it never
    # reaches the backend whole, so it takes no compiled model from the chunks' shapes
    for frames in (33, *[97] * RECENT_INPUTS, 33):
        mel, want = _seeded(generator, frames)
        assert np.max(np.abs(vocoder(mel) - want)) <= TOL
    assert (1, 80, 33) not in vocoder.shapes_seen and (1, 80, 33) not in backend.requests


def test_vocoder_from_checkpoint_takes_backend_and_same_input_errors(ckpt, onnx_file):
    from src.audio import AudioError

    for backend, source in (("onnxruntime", onnx_file), ("mindspore", ckpt)):
        vocoder = Vocoder.from_checkpoint(source, backend=backend)
        assert vocoder(_mel(3)).shape == (3 * 256,)  # shorter than any chunk or window
        with pytest.raises(AudioError, match="80"):
            vocoder(np.zeros((40, 10), np.float32), name="x.npy")
        with pytest.raises(AudioError, match="x.npy"):
            vocoder(np.full((80, 10), np.nan, np.float32), name="x.npy")


def test_fixed_shape_mindir_serves_window_mode_only(generator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MindSpore writes relative to the working directory
    ms.export(generator, ms.Tensor(np.zeros((1, 80, 64), np.float32)), file_name="fixed", file_format="MINDIR")
    ms.export(generator, ms.Tensor(shape=[1, 80, None], dtype=ms.float32), file_name="dynamic", file_format="MINDIR")
    assert make_backend("mindspore", str(tmp_path / "dynamic.mindir")).fixed_frames is None
    backend = make_backend("mindspore", str(tmp_path / "fixed.mindir"))
    assert backend.fixed_frames == 64
    mel = _mel(150, seed=4)
    got = Vocoder(backend, mode="window", eval_length=64)(mel)
    want = Vocoder(generator, mode="window", eval_length=64)(mel)
    assert np.max(np.abs(got - want)) <= TOL
    with pytest.raises(BackendError, match="exactly 64 frames.*window mode"):
        Vocoder(backend, mode="whole")


# ---- bf16 ----
def test_auto_measures_again_when_the_backends_revision_changes(tmp_path, monkeypatch):
    """A graph form or runtime option change (choice.BACKENDS_REVISION) makes kept timings stale."""
    from src.backends import choice

    monkeypatch.setenv("MELGAN_CACHE_DIR", str(tmp_path))
    calls = []

    def measure(candidates, settings):
        calls.append(1)
        return {name: 10.0 for name in candidates}

    choice.choose("checkpoint", measure=measure)
    assert "measured once" in choice.choose("checkpoint", measure=measure)[1] and len(calls) == 1
    monkeypatch.setattr(choice, "BACKENDS_REVISION", choice.BACKENDS_REVISION + 1)
    assert "measured now" in choice.choose("checkpoint", measure=measure)[1] and len(calls) == 2


def test_bf16_support_reads_the_cpu_flags():
    assert cpu_dispatch.bf16_support({"avx2", "avx512f", "avx512_bf16"}) == (True, "avx512_bf16")
    assert cpu_dispatch.bf16_support({"amx_tile", "amx_bf16"})[0]
    supported, line = cpu_dispatch.bf16_support({"avx2", "avx512f", "avx512_vnni"})
    assert not supported and "not available on this CPU" in line and "\n" not in line


def test_bf16_refused_cleanly(ckpt, monkeypatch):
    for name in ("mindspore", "onnxruntime"):
        if BF16_HERE:
            with pytest.raises(BackendError, match="openvino only"):
                make_backend(name, ckpt, "bf16")
    with pytest.raises(BackendError, match="--precision must be one of fp32, bf16"):
        make_backend("openvino", ckpt, "fp16")
    monkeypatch.setattr(cpu_dispatch, "cpu_info", lambda path="/proc/cpuinfo": ("Old CPU", {"avx2", "fma"}))
    with pytest.raises(BackendError, match="bf16 is not available on this CPU .Old CPU.") as excinfo:
        make_backend("openvino", ckpt, "bf16")
    assert "\n" not in str(excinfo.value)


@pytest.mark.skipif(not BF16_HERE, reason="this CPU has neither AVX512-BF16 nor AMX")
def test_openvino_bf16_within_its_snr_on_speech(generator, speech_mel):
    backend = make_backend("openvino", generator, "bf16")
    fp32 = Vocoder(generator)(speech_mel)
    bf16 = Vocoder(backend)(speech_mel)
    assert bf16.shape == fp32.shape
    snr = snr_db(fp32, bf16)
    assert BF16_SNR_DB <= snr < 80, snr  # < 80: it really ran in bf16, not silently in fp32


# ---- one-line failures ----
def test_missing_package_is_one_line(ckpt, monkeypatch):
    for name, module in (("onnxruntime", "onnxruntime"), ("openvino", "openvino")):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
        with pytest.raises(BackendError, match=f"--backend {name} needs the Python package '{module}'") as excinfo:
            make_backend(name, ckpt)
        assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage"])
@pytest.mark.parametrize("name", ("onnxruntime", "openvino"))
def test_damaged_onnx_is_one_line_naming_the_file(name, how, onnx_file, tmp_path):
    bad = tmp_path / "bad.onnx"
    shutil.copy(onnx_file, bad)
    damage_file(str(bad), how)
    with pytest.raises(BackendError, match="bad.onnx") as excinfo:
        make_backend(name, str(bad))
    assert "\n" not in str(excinfo.value)


def test_wrong_file_kind_for_backend_and_missing_file(onnx_file, tmp_path):
    with pytest.raises(BackendError, match="mindspore cannot run a .onnx file"):
        make_backend("mindspore", onnx_file)
    with pytest.raises(BackendError, match="onnxruntime cannot run a .mindir file"):
        make_backend("onnxruntime", str(tmp_path / "x.mindir"))
    with pytest.raises(BackendError, match="nothere.onnx: model file not found"):
        make_backend("openvino", str(tmp_path / "nothere.onnx"))
    garbage = tmp_path / "bad.mindir"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BackendError, match="bad.mindir: damaged"):
        make_backend("mindspore", str(garbage))
    with pytest.raises(BackendError, match="--backend must be one of"):
        make_backend("tensorrt", onnx_file)


# ---- eval.py ----
def test_eval_runs_a_backend_and_refuses_bad_values_in_one_line(ckpt, onnx_file, tmp_path):
    import soundfile as sf

    import eval as eval_script
    from src.fileio import save_npy

    mel = _mel(300, seed=5)
    save_npy(str(tmp_path / "m.npy"), mel)
    want = Vocoder.from_checkpoint(ckpt)(mel)
    for backend, source in (("onnxruntime", onnx_file), ("openvino", ckpt)):
        out = tmp_path / backend
        rows = eval_script.main(["--eval_data_path", str(tmp_path / "m.npy"), "--eval_model_path", source,
                                 "--output_path", str(out), "--backend", backend, "--metrics", "none"])
        got, _ = sf.read(str(out / "m.wav"), dtype="float32")
        assert rows[0]["frames"] == 300 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1.5 / 32768)  # 16-bit quantization only
    for args, needle in ((["--backend", "tflite"], "--backend must be one of"),
                         (["--precision", "int8"], "--precision must be one of"),
                         (["--backend", "mindspore", "--eval_model_path", onnx_file], "cannot run a .onnx file")):
        with pytest.raises(SystemExit) as excinfo:
            eval_script.main(["--eval_data_path", str(tmp_path / "m.npy"), "--eval_model_path", ckpt,
                              "--output_path", str(tmp_path / "bad"), *args])
        message = str(excinfo.value)
        assert message.startswith("error: ") and needle in message and "\n" not in message
