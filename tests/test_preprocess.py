"""preprocess.py: SPEC §1 features, the zoo layout, bad input, resampling, reruns."""
import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import librosa
import numpy as np
import pytest
import soundfile as sf

from src.features import ZOO
from src.dataset import create_dataset
from src.demo_corpus import make_demo_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_preprocess():
    """The repository's preprocess.py by path: ascend310_infer/ has its own module of that name."""
    spec = importlib.util.spec_from_file_location("melgan_preprocess", os.path.join(ROOT, "preprocess.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_preprocess = _load_preprocess()
choose_val, preprocess = _preprocess.choose_val, _preprocess.preprocess


def reference_log_mel(y):
    """SPEC §1 written out independently with librosa's feature API (magnitude, not power)."""
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=256, win_length=1024,
                                         window="hann", center=True, pad_mode="reflect", power=1.0,
                                         n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney")
    return np.log(np.clip(mel, 1e-5, None))


def read_pcm(path):
    data, sr = sf.read(path, dtype="int16")
    return data.astype(np.float32) / 32768.0, sr


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "preprocess.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_corpus(str(tmp_path_factory.mktemp("corpus")), num_utterances=4, seed=1)


def test_demo_corpus_to_zoo_layout_with_spec_mels(demo, tmp_path):
    out = str(tmp_path / "ds")
    r = run_cli("--input_dir", demo, "--output_dir", out, "--val_size", "1")
    assert r.returncode == 0, r.stderr
    assert "4 processed" in r.stdout and "0 skipped" in r.stdout
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert len(manifest["train"]) == 3 and len(manifest["val"]) == 1
    assert sorted(os.listdir(os.path.join(out, "val"))) == [n + ".npy" for n in manifest["val"]]
    pairs = [(os.path.join(out, "train", "wav", n + ".wav"), os.path.join(out, "train", "mel", n + ".npy"))
             for n in manifest["train"]]
    pairs += [(os.path.join(out, "val_wav", n + ".wav"), os.path.join(out, "val", n + ".npy")) for n in manifest["val"]]
    for wav_path, mel_path in pairs:
        info = sf.info(wav_path)
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        y, _ = read_pcm(wav_path)
        source, _ = read_pcm(os.path.join(demo, "wavs", os.path.basename(wav_path)))
        np.testing.assert_array_equal(y, source)  # already 22050 mono 16-bit: copied exactly
        mel = np.load(mel_path)
        assert mel.dtype == np.float32 and mel.shape == (80, 1 + len(y) // 256)
        assert np.abs(mel - reference_log_mel(y)).max() <= 1e-4
    # train.py's dataset reads it with no further step
    ds = create_dataset(os.path.join(out, "train"), batch_size=3, train_length=16, num_workers=1)
    batch = next(ds.create_dict_iterator(num_epochs=1, output_numpy=True))
    assert batch["wav"].shape == (3, 1, 16 * 256)


def test_resampling_and_downmixing_said_once(tmp_path, capsys):
    corpus, out = tmp_path / "corpus", str(tmp_path / "ds")
    corpus.mkdir()
    t44 = np.arange(2 * 44100) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t44), 0.3 * np.sin(2 * np.pi * 440 * t44)], axis=1)
    sf.write(corpus / "stereo_a.wav", stereo, 44100, subtype="PCM_16")
    sf.write(corpus / "stereo_b.wav", stereo[::-1], 44100, subtype="PCM_16")
    t16 = np.arange(16000) / 16000
    sf.write(corpus / "mono16k.flac", 0.4 * np.sin(2 * np.pi * 300 * t16), 16000)
    stats = preprocess(str(corpus), out, val_size=0, num_workers=1)
    log = capsys.readouterr().out
    assert stats == {**stats, "train": 3, "processed": 3, "resampled": 3, "downmixed": 2}
    assert log.count("note: resampling audio to 22050 Hz") == 1
    assert log.count("note: mixing multi-channel audio down to mono") == 1
    y, sr = read_pcm(os.path.join(out, "train", "wav", "stereo_a.wav"))
    assert sr == 22050 and abs(len(y) - 44100) <= 1
    t = np.arange(len(y)) / 22050
    # the mean of the channels, 0.4 sin(440 Hz), away from the resampler's edges
    np.testing.assert_allclose(y[1000:-1000], 0.4 * np.sin(2 * np.pi * 440 * t)[1000:-1000], atol=2e-3)
    y16, _ = read_pcm(os.path.join(out, "train", "wav", "mono16k.wav"))
    assert abs(len(y16) - 22050) <= 1
    for name in ("stereo_a", "stereo_b", "mono16k"):
        y, _ = read_pcm(os.path.join(out, "train", "wav", name + ".wav"))
        np.testing.assert_allclose(np.load(os.path.join(out, "train", "mel", name + ".npy")), ZOO.log_mel(y), atol=1e-6)


def write_bad_inputs(folder):
    good = 0.2 * np.sin(np.arange(8000) / 7.0)
    sf.write(os.path.join(folder, "good.wav"), good, 22050, subtype="PCM_16")
    open(os.path.join(folder, "empty.wav"), "wb").close()
    full = open(os.path.join(folder, "good.wav"), "rb").read()
    open(os.path.join(folder, "truncated.wav"), "wb").write(full[:len(full) // 2])
    open(os.path.join(folder, "notaudio.flac"), "w").write("this is a text file, not audio\n")
    sf.write(os.path.join(folder, "zero.wav"), np.zeros(0), 22050, subtype="PCM_16")


def test_every_bad_input_is_skipped_with_one_warning(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_bad_inputs(str(corpus))
    out = str(tmp_path / "ds")
    r = run_cli("--input_dir", str(corpus), "--output_dir", out, "--val_size", "0")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    expected = {"empty.wav": "empty file", "truncated.wav": "truncated WAV", "notaudio.flac": "not readable audio",
                "zero.wav": "zero-length audio"}
    assert len(warnings) == len(expected)
    for name, reason in expected.items():
        assert any(os.path.join(str(corpus), name) in w and reason in w for w in warnings), (name, warnings)
    assert "Traceback" not in r.stderr
    assert "1 train + 0 val" in r.stdout and "4 skipped" in r.stdout
    assert os.listdir(os.path.join(out, "train", "wav")) == ["good.wav"]
    assert len(json.load(open(os.path.join(out, "manifest.json")))["skipped"]) == 4


def test_dataset_written_inside_the_corpus_is_not_input(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.wav", 0.1 * np.sin(np.arange(6000) / 5.0), 22050, subtype="PCM_16")
    for _ in range(2):
        stats = preprocess(str(corpus), str(corpus / "ds"), val_size=0, num_workers=1)
        assert stats["train"] == 1 and stats["skipped"] == 0


def test_unwritable_output_is_one_line(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.wav", np.zeros(3000), 22050, subtype="PCM_16")
    (tmp_path / "file").write_text("not a folder")
    r = run_cli("--input_dir", str(corpus), "--output_dir", str(tmp_path / "file" / "ds"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "file" in r.stderr


def test_metadata_row_naming_a_missing_file(demo, tmp_path):
    corpus = tmp_path / "lj"
    os.makedirs(corpus / "wavs")
    names = [line.split("|")[0] for line in open(os.path.join(demo, "metadata.csv"))]
    for n in names[:2]:
        os.link(os.path.join(demo, "wavs", n + ".wav"), corpus / "wavs" / (n + ".wav"))
    (corpus / "metadata.csv").write_text("".join(f"{n}|text|text\n" for n in names[:2] + ["LJ999-0001"]))
    r = run_cli("--input_dir", str(corpus), "--output_dir", str(tmp_path / "ds"), "--val_size", "0")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "LJ999-0001.wav" in warnings[0] and "missing" in warnings[0]
    assert "2 train + 0 val" in r.stdout and "1 skipped" in r.stdout


def test_nothing_usable_exits_nonzero_without_traceback(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_bad_inputs(str(corpus))
    os.remove(corpus / "good.wav")
    r = run_cli("--input_dir", str(corpus), "--output_dir", str(tmp_path / "ds"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"error: {corpus}: no usable audio (4 files skipped)"
    r = run_cli("--input_dir", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "ds"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "no such folder" in r.stderr


def test_when_only_held_out_files_are_usable_one_goes_to_train(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    val_name = sorted(choose_val(["a", "b"], 1))[0]
    train_name = "b" if val_name == "a" else "a"
    sf.write(corpus / f"{val_name}.wav", 0.1 * np.sin(np.arange(6000) / 5.0), 22050, subtype="PCM_16")
    (corpus / f"{train_name}.wav").write_bytes(b"not audio at all")
    out = str(tmp_path / "ds")
    stats = preprocess(str(corpus), out, val_size=1, num_workers=1)
    assert (stats["train"], stats["val"], stats["skipped"]) == (1, 0, 1)
    assert os.listdir(os.path.join(out, "train", "mel")) == [f"{val_name}.npy"]
    assert os.listdir(os.path.join(out, "val")) == []


def test_val_split_is_deterministic_and_keeps_training_data():
    names = [f"LJ001-{i:04d}" for i in range(50)]
    val = choose_val(names, 5)
    assert len(val) == 5 and val == choose_val(names[::-1], 5)
    assert val < choose_val(names + ["LJ002-0001"], 6)  # stable as the corpus grows
    assert choose_val(names, 0) == set()
    assert choose_val(names[:3], 10) == choose_val(names[:3], 2) and len(choose_val(names[:3], 10)) == 2


def dataset_files(out):
    """{relative path: content} of every output (hidden temp files included): WAV bytes, mel arrays."""
    files = {}
    for p in glob.glob(os.path.join(out, "**", "*"), recursive=True) + glob.glob(os.path.join(out, "**", ".*"),
                                                                                  recursive=True):
        if os.path.isfile(p) and not p.endswith("manifest.json"):
            files[os.path.relpath(p, out)] = np.load(p) if p.endswith(".npy") else open(p, "rb").read()
    return files


def assert_same_files(got, want):
    assert sorted(got) == sorted(want)
    for rel, data in got.items():
        if rel.endswith(".npy"):
            # mels from separate processes may differ in the last bit (BLAS threading)
            np.testing.assert_allclose(data, want[rel], rtol=0, atol=1e-5, err_msg=rel)
        else:
            assert data == want[rel], rel


def long_corpus(folder, count=24, seconds=3.0):
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        # 44.1 kHz stereo so each file takes a while (resampling): room to interrupt the run
        sf.write(os.path.join(folder, f"clip{i:02d}.wav"),
                 0.1 * rng.standard_normal((int(seconds * 44100), 2)), 44100, subtype="PCM_16")
    return folder


def test_rerun_after_interruption_leaves_a_complete_dataset(tmp_path):
    corpus = long_corpus(str(tmp_path / "corpus"))
    clean = str(tmp_path / "clean")
    preprocess(corpus, clean, val_size=2, num_workers=1)
    reference = dataset_files(clean)

    out = str(tmp_path / "ds")
    proc = subprocess.Popen([sys.executable, "preprocess.py", "--input_dir", corpus, "--output_dir", out,
                             "--val_size", "2"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(os.path.join(out, "train", "mel", "*.npy"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes, mid-way
    proc.wait()
    partial = dataset_files(out)
    assert 0 < len(partial) < len(reference), "the run was interrupted part-way"
    # whatever has its final name is complete
    assert_same_files({k: v for k, v in partial.items() if not os.path.basename(k).startswith(".")},
                      {k: v for k, v in reference.items() if k in partial})

    r = run_cli("--input_dir", corpus, "--output_dir", out, "--val_size", "2")
    assert r.returncode == 0, r.stderr
    assert "already done" in r.stdout
    assert_same_files(dataset_files(out), reference)  # complete, identical, and no temp file left
    assert json.load(open(os.path.join(out, "manifest.json")))["train"] == json.load(
        open(os.path.join(clean, "manifest.json")))["train"]


def test_ctrl_c_stops_with_one_line(tmp_path):
    corpus, out = long_corpus(str(tmp_path / "corpus"), count=16), str(tmp_path / "ds")
    proc = subprocess.Popen([sys.executable, "preprocess.py", "--input_dir", corpus, "--output_dir", out], cwd=ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(os.path.join(out, "train", "mel", "*.npy"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: finished files are kept")
    r = run_cli("--input_dir", corpus, "--output_dir", out)
    assert r.returncode == 0 and "0 skipped" in r.stdout and "already done" in r.stdout
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert len(manifest["train"]) + len(manifest["val"]) == 16


def test_rerun_redoes_half_finished_pairs_and_moves_split(demo, tmp_path):
    out = str(tmp_path / "ds")
    preprocess(demo, out, val_size=1, num_workers=1)
    reference = dataset_files(out)
    train = json.load(open(os.path.join(out, "manifest.json")))["train"]
    os.remove(os.path.join(out, "train", "mel", train[0] + ".npy"))  # killed between the two writes
    open(os.path.join(out, "train", "wav", "." + train[1] + ".wav.abc.tmp"), "wb").write(b"RIFF")
    stats = preprocess(demo, out, val_size=1, num_workers=1)
    assert (stats["processed"], stats["kept"]) == (1, 3)
    assert_same_files(dataset_files(out), reference)
    stats = preprocess(demo, out, val_size=2, num_workers=1)  # one more held out: moved, not copied
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert len(manifest["val"]) == 2 and len(os.listdir(os.path.join(out, "val"))) == 2
    assert sorted(os.listdir(os.path.join(out, "train", "mel"))) == [n + ".npy" for n in manifest["train"]]


def test_outputs_get_the_usual_file_mode(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the final files must be readable like any other."""
    import stat
    from src.audio import write_wav
    from src.fileio import save_npy

    umask = os.umask(0)
    os.umask(umask)
    wav, npy = tmp_path / "a.wav", tmp_path / "a.npy"
    write_wav(str(wav), np.zeros(256, np.float32))
    save_npy(str(npy), np.zeros((80, 2), np.float32))
    for path in (wav, npy):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_default_val_size_scales_with_the_corpus():
    sizes = {n: _preprocess.default_val_size(n) for n in (0, 1, 2, 12, 24, 50, 100, 199, 200, 13100)}
    assert sizes == {0: 0, 1: 0, 2: 1, 12: 1, 24: 1, 50: 2, 100: 5, 199: 10, 200: 10, 13100: 10}
    names = [f"clip{i:02d}" for i in range(12)]
    assert choose_val(names) == choose_val(names, 1)  # None -> the default


def test_small_corpus_keeps_most_clips_for_training_and_says_so(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        sf.write(corpus / f"clip{i:02d}.wav", 0.1 * np.sin(np.arange(3000 + 100 * i) / 5.0), 22050,
                 subtype="PCM_16")
    r = run_cli("--input_dir", str(corpus), "--output_dir", str(tmp_path / "ds"), "--num_workers", "1")
    assert r.returncode == 0, r.stderr
    assert "11 train + 1 val" in r.stdout and "1 of 12 held out by default (5 %" in r.stdout
    assert len(os.listdir(tmp_path / "ds" / "train" / "mel")) == 11
    r = run_cli("--input_dir", str(corpus), "--output_dir", str(tmp_path / "ds"), "--val_size", "3")
    assert r.returncode == 0, r.stderr  # an explicit count still wins
    assert "9 train + 3 val" in r.stdout and "3 of 12 held out (--val_size 3)" in r.stdout
    assert len(os.listdir(tmp_path / "ds" / "val")) == 3
