"""eval.py end to end: outputs, report, plots, modes, bad input, damaged checkpoints, kill -9."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest
import soundfile as sf

import eval as eval_script
from src.audio import read_audio, write_wav
from src.features import ZOO
from src.fileio import save_npy
from tests.corpus import make_eval_inputs
from tests.damage import KINDS, damage_file
from src.demo_corpus import make_demo_corpus
from src.checkpoint import save_checkpoint
from src.inference import Vocoder
from src.model import load_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def ckpt(zoo_ckpt):
    return zoo_ckpt


@pytest.fixture
def dataset(tmp_path):
    """preprocess.py's layout: val/NAME.npy and its reference val_wav/NAME.wav; plus one WAV input."""
    return pathlib.Path(make_eval_inputs(tmp_path / "ds"))


def _run(data, ckpt, out, *extra):
    return eval_script.main(["--eval_data_path", str(data), "--eval_model_path", ckpt,
                             "--output_path", str(out), *extra])


def _one_line_error(excinfo, *needles):
    message = str(excinfo.value)
    assert message.startswith("error: ") or message.startswith("config error: ")
    assert "\n" not in message
    for needle in needles:
        assert str(needle) in message
    return message


def test_eval_writes_wavs_report_and_plots(dataset, ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    rows = _run(dataset, ckpt, out, "--plot", "True")
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    for name, source in (("a", "a.npy"), ("b", "b.npy")):
        frames = np.load(dataset / source).shape[1]
        info = sf.info(str(out / f"{name}.wav"))
        assert (info.samplerate, info.subtype, info.channels, info.frames) == (ZOO.sample_rate, "PCM_16", 1, 256 * frames)
    c_frames = 1 + int(0.4 * ZOO.sample_rate) // 256
    assert sf.info(str(out / "c.wav")).frames == 256 * c_frames
    report = json.loads((out / "report.json").read_text())
    by_name = {r["name"]: r for r in report["files"]}
    assert by_name["a"]["reference"].endswith(os.path.join("val_wav", "a.wav"))
    for name in ("a", "c"):  # references known: val_wav for a, the input itself for c
        assert by_name[name]["log_mel_l1"] > 0 and by_name[name]["mcd_db"] > 0
        assert by_name[name]["stoi"] is None or -1 <= by_name[name]["stoi"] <= 1  # None: clip too short
    assert "mcd_db" not in by_name["b"] and by_name["b"]["rtf"] > 0
    assert len((out / "report.csv").read_text().strip().splitlines()) == 1 + 3 + 1  # header, files, mean
    for name in ("a", "b", "c"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "log_mel_l1" in printed and "MEAN" in printed
    # the synthesized audio is what the Vocoder API returns, quantized to 16 bits
    want = Vocoder(load_generator(ckpt))(np.load(dataset / "b.npy"))
    got, _ = sf.read(str(out / "b.wav"), dtype="float32")
    np.testing.assert_allclose(got, want, atol=1.5 / 32768)


@pytest.mark.parametrize("level,present,absent", [
    ("none", [], ["log_mel_l1", "mcd_db", "stoi", "pesq_wb", "mos_est", "mos_est_ref"]),
    ("fast", ["log_mel_l1", "mcd_db"], ["stoi", "pesq_wb", "mos_est", "mos_est_ref"])])
def test_metrics_levels_write_audio_and_only_what_was_asked(dataset, ckpt, tmp_path, level, present, absent):
    out = tmp_path / "out"
    rows = _run(dataset, ckpt, out, "--metrics", level)
    assert all((out / f"{r['name']}.wav").stat().st_size > 44 for r in rows)
    by_name = {r["name"]: r for r in json.loads((out / "report.json").read_text())["files"]}
    assert by_name["a"]["rtf"] > 0  # the speed is always reported
    for key in present:
        assert by_name["a"][key] > 0
    for key in absent:
        assert by_name["a"].get(key) is None
    if level == "none":
        assert by_name["a"]["reference"] is None  # the reference audio is not even read


def test_window_mode_and_single_file(dataset, ckpt, tmp_path):
    out = tmp_path / "out_window"
    _run(dataset / "a.npy", ckpt, out, "--eval_mode", "window", "--eval_length", "16")
    mel = np.load(dataset / "a.npy")
    got, _ = sf.read(str(out / "a.wav"), dtype="float32")
    want = Vocoder(load_generator(ckpt), mode="window", eval_length=16)(mel)
    assert got.shape == (256 * mel.shape[1],)
    np.testing.assert_allclose(got, want, atol=1.5 / 32768)
    assert sorted(os.listdir(out)) == ["a.wav", "index.html", "report.csv", "report.json"]


@pytest.mark.parametrize("bad, needle", [
    (np.zeros((79, 30), np.float32), "80 mel channels"),
    (np.full((80, 30), np.nan, np.float32), "NaN"),
    (np.zeros(80, np.float32), "2-D"),
    (b"this is not numpy", "not a readable .npy"),
])
def test_bad_mel_stops_with_one_line_and_keeps_outputs(dataset, ckpt, tmp_path, bad, needle):
    out = tmp_path / "out"
    _run(dataset, ckpt, out, "--metrics", "none")  # audio and the report are what must survive
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    bad_path = dataset / "z_bad.npy"
    if isinstance(bad, bytes):
        bad_path.write_bytes(bad)
    else:
        np.save(bad_path, bad)
    with pytest.raises(SystemExit) as excinfo:
        _run(dataset, ckpt, out, "--metrics", "none")
    _one_line_error(excinfo, bad_path, needle)
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before


def test_bad_paths_stop_with_one_line(tmp_path, ckpt, dataset):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(SystemExit) as excinfo:
        _run(notes, ckpt, tmp_path / "o1")
    _one_line_error(excinfo, notes, "not a .npy")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as excinfo:
        _run(empty, ckpt, tmp_path / "o2")
    _one_line_error(excinfo, empty, "no .npy or .wav")
    with pytest.raises(SystemExit) as excinfo:
        _run(tmp_path / "nowhere", ckpt, tmp_path / "o3")
    _one_line_error(excinfo, "nowhere", "no such file")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as excinfo:  # output folder cannot be created
        _run(dataset, ckpt, blocker / "out")
    _one_line_error(excinfo, blocker / "out", "cannot write")


@pytest.mark.parametrize("args, needle", [
    (["--eval_mode", "fastest"], "eval_mode"),
    (["--eval_length", "4"], "eval_length"),
    (["--eval_length", "many"], "eval_length"),
    (["--hop_size", "200"], "hop_size"),
    (["--no_such_key", "1"], "no_such_key"),
])
def test_wrong_config_value_stops_with_one_line(dataset, ckpt, tmp_path, args, needle):
    with pytest.raises(SystemExit) as excinfo:
        _run(dataset, ckpt, tmp_path / "out", *args)
    _one_line_error(excinfo, needle)


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "garbage", "flipped", "other_network"])
def test_bad_checkpoint_stops_with_one_line_naming_it(dataset, ckpt, tmp_path, damage):
    path = tmp_path / f"{damage}.ckpt"
    if damage in KINDS:
        shutil.copyfile(ckpt, path)
        damage_file(path, damage)
    elif damage == "other_network":
        save_checkpoint([{"name": "encoder.fc.weight", "data": ms.Tensor(np.ones((8, 8), np.float32))}], str(path))
    with pytest.raises(SystemExit) as excinfo:
        _run(dataset, str(path), tmp_path / "out")
    _one_line_error(excinfo, path)
    assert not any(f.endswith(".wav") for f in os.listdir(tmp_path / "out"))


def _complete_wavs(out):
    names = sorted(f for f in os.listdir(out) if f.endswith(".wav") and not f.startswith("."))
    for f in names:
        info = sf.info(os.path.join(out, f))
        data, _ = sf.read(os.path.join(out, f), dtype="int16")
        assert info.frames == len(data) == 256 * 120  # every visible output is whole
    return names


def test_kill_9_mid_run_then_rerun_completes(tmp_path, ckpt):
    data = tmp_path / "mels"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        save_npy(str(data / f"u{i}.npy"), rng.normal(-5, 2, (80, 120)).astype(np.float32))
    out = tmp_path / "out"
    cmd = [sys.executable, os.path.join(ROOT, "eval.py"), "--eval_data_path", str(data),
           "--eval_model_path", ckpt, "--output_path", str(out), "--metrics", "none"]  # audio is what is checked
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and _complete_wavs(out):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "eval.py finished before it could be killed"
    assert len(_complete_wavs(out)) < 8
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _complete_wavs(out) == [f"u{i}.wav" for i in range(8)]
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    assert len(json.loads((out / "report.json").read_text())["files"]) == 8


def test_features_from_another_toolkit_are_named_once(dataset, ckpt, tmp_path, capsys):
    """A log10 mel vocodes into noise without error: the run says which file and why, once."""
    save_npy(str(dataset / "log10.npy"), np.load(dataset / "a.npy") / np.log(10))
    rows = _run(dataset, ckpt, tmp_path / "out", "--metrics", "none")
    assert [r["name"] for r in rows] == ["a", "b", "c", "log10"]  # still synthesized
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(dataset / "log10.npy") in warnings[0] and "log10" in warnings[0], captured
    # nothing records how these mels were made (no manifest.json, no declared features): said once
    assert captured.out.count("note: 3 .npy input(s) without manifest.json: taken to be the model's") == 1


def test_report_estimated_mos_scores_clean_speech_above_noisy(ckpt, tmp_path):
    """DNSMOS (mos_est, mos_est_ref): an espeak-ng clip scores higher than the same clip plus noise."""
    corpus = make_demo_corpus(str(tmp_path / "corpus"), num_utterances=1)
    wav = os.path.join(corpus, "wavs", sorted(os.listdir(os.path.join(corpus, "wavs")))[0])
    clean, _ = read_audio(wav)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    inputs = tmp_path / "inputs"
    write_wav(str(inputs / "clean.wav"), clean)
    write_wav(str(inputs / "noisy.wav"), np.clip(noisy, -1, 1))
    out = tmp_path / "out"
    _run(inputs, ckpt, out)
    rows = {r["name"]: r for r in json.loads((out / "report.json").read_text())["files"]}
    assert rows["clean"]["mos_est_ref"] > rows["noisy"]["mos_est_ref"] + 0.3, rows
    for row in rows.values():  # the synthesized audio (random weights here) is scored too
        assert 0 < row["mos_est"] < 5
    header = (out / "report.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["mos_est", "mos_est_ref"]
    assert "estimate" in json.loads((out / "report.json").read_text())["notes"]["mos_est"]
