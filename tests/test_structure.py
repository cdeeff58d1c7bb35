"""The structure the code promises: no import cycle in src/, and the C++ deployment's host-side steps
(window split before the app, merge after it) run on a machine without MindSpore."""
import json
import os
import subprocess
import sys

import numpy as np

from src.features import ZOO
from src.fileio import save_npy
from tests.structure import ROOT, cycles, import_graph

# Runs a script with `import mindspore` failing, as on an inference host without it.
WITHOUT_MINDSPORE = ("import runpy, sys; sys.modules['mindspore'] = None; sys.argv = sys.argv[1:]; "
                     "runpy.run_path(sys.argv[0], run_name='__main__')")


def test_src_has_no_import_cycle():
    graph = import_graph()
    assert "src.inference" in graph and "src.backends" in graph["src.inference"]  # the graph is read
    assert cycles(graph) == []


def test_cpp_host_steps_run_without_mindspore(tmp_path):
    rng = np.random.default_rng(0)
    mels = tmp_path / "mels"
    mel = np.clip(rng.normal(-5, 2, (80, 300)), ZOO.log_min, 2).astype(np.float32)
    save_npy(str(mels / "utt.npy"), mel)
    bins, results, wavs = tmp_path / "bins", tmp_path / "results", tmp_path / "wavs"

    def run(script, *args):
        return subprocess.run([sys.executable, "-c", WITHOUT_MINDSPORE, os.path.join(ROOT, "ascend310_infer", script),
                               *args], cwd=ROOT, capture_output=True, text=True)

    done = run("preprocess.py", "--mel_path", str(mels), "--output_path", str(bins), "--eval_length", "64")
    assert done.returncode == 0, done.stderr
    meta = json.loads((bins / "windows.json").read_text())
    count = meta["utterances"]["utt"]["windows"]
    results.mkdir()
    for i in range(count):  # what the C++ app would write: one output per window
        window = np.fromfile(bins / f"utt_{i:03d}.bin", dtype=np.float32)
        assert window.size == 80 * 64
        np.full(64 * ZOO.hop, 0.1, np.float32).tofile(results / f"utt_{i:03d}_0.bin")
    done = run("postprocess.py", "--result_path", str(results), "--meta", str(bins / "windows.json"),
               "--output_path", str(wavs))
    assert done.returncode == 0, done.stderr
    import soundfile as sf
    audio, sr = sf.read(wavs / "utt.wav", dtype="float32")
    assert sr == ZOO.sample_rate and audio.shape == (300 * ZOO.hop,)
    np.testing.assert_allclose(audio, 0.1, atol=1 / 32768)  # the cross-fade of equal windows is the window


def test_the_check_really_blocks_mindspore():
    code = subprocess.run([sys.executable, "-c", "import sys; sys.modules['mindspore'] = None; import mindspore"],
                          capture_output=True, text=True)
    assert code.returncode != 0 and ("ModuleNotFoundError" in code.stderr or "ImportError" in code.stderr)
