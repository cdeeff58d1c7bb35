"""src/demo_corpus.py: an LJ Speech-style corpus spoken by espeak-ng."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from src.demo_corpus import DemoCorpusError, make_demo_corpus


def test_lj_speech_layout_deterministic_and_varied(tmp_path):
    voices = ["en-us", "en-gb+f3", "en-us+m3"]
    a = make_demo_corpus(str(tmp_path / "a"), num_utterances=3, voices=voices, seed=5)
    rows = [line.rstrip("\n").split("|") for line in open(os.path.join(a, "metadata.csv"), encoding="utf-8")]
    assert [r[0] for r in rows] == ["DEMO-0001", "DEMO-0002", "DEMO-0003"]
    assert all(len(r) == 3 and r[1] == r[2] and r[1] for r in rows)
    assert len({r[1] for r in rows}) == 3, "different sentences"
    clips = []
    for name, _, _ in rows:
        path = os.path.join(a, "wavs", name + ".wav")
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        audio = sf.read(path)[0]
        assert 0.5 < len(audio) / 22050 < 10 and np.abs(audio).max() > 0.05  # speech, not silence
        clips.append(open(path, "rb").read())
    b = make_demo_corpus(str(tmp_path / "b"), num_utterances=3, voices=voices, seed=5)
    assert [open(os.path.join(b, "wavs", r[0] + ".wav"), "rb").read() for r in rows] == clips
    c = make_demo_corpus(str(tmp_path / "c"), num_utterances=1, voices=voices, seed=6)
    assert open(os.path.join(c, "wavs", "DEMO-0001.wav"), "rb").read() != clips[0]


def test_unknown_voice_is_one_clear_error(tmp_path):
    with pytest.raises(DemoCorpusError, match="nosuchvoice"):
        make_demo_corpus(str(tmp_path), num_utterances=1, voices=["nosuchvoice"])
    assert not [f for f in os.listdir(tmp_path / "wavs")], "nothing half-written"


def test_cli(tmp_path):
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "make_demo_corpus.py")
    r = subprocess.run([sys.executable, script, "--output_dir", str(tmp_path / "c"), "--num_utterances", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "c" / "wavs")) == ["DEMO-0001.wav", "DEMO-0002.wav"]
    r = subprocess.run([sys.executable, script, "--output_dir", str(tmp_path / "d"), "--voices", "nosuchvoice"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: espeak-ng failed for voice 'nosuchvoice'")
