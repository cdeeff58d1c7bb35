"""--backend auto (the default): which runtime, and why, per device and per installed runtime."""
import json
import os
import subprocess
import sys

import numpy as np

from src.backends import choice, make_backend
from src.inference import Vocoder
from tests.structure import ROOT

TOL = 1e-4


def test_rules_that_need_no_measurement():
    assert choice.choose("checkpoint", "GPU")[0] == "mindspore"
    assert choice.choose("checkpoint", "Ascend")[0] == "mindspore"
    assert choice.choose("mindir")[0] == "mindspore"
    assert choice.choose("checkpoint", precision="bf16")[0] == "openvino"


def test_the_fastest_measured_runtime_wins_and_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MELGAN_CACHE_DIR", str(tmp_path))
    calls = []

    def measure(candidates, settings):
        calls.append(list(candidates))
        return {"openvino": 30.0, "onnxruntime": 20.0}

    name, reason = choice.choose("checkpoint", measure=measure)
    assert name == "onnxruntime" and "onnxruntime 20 ms, openvino 30 ms per" in reason
    assert "measured now" in reason and calls == [["openvino", "onnxruntime"]]  # MindSpore: never the fastest
    name, reason = choice.choose("checkpoint", measure=measure)
    assert name == "onnxruntime" and "measured once, kept in" in reason and len(calls) == 1
    (cached,) = tmp_path.iterdir()
    assert json.loads(cached.read_text())["ms"]["onnxruntime"] == 20.0
    assert choice.choose("onnx", measure=measure)[0] == "onnxruntime"  # an .onnx file never runs in MindSpore


def _choose_without(*modules):
    """choose() in a process where these packages cannot be imported (not installed)."""
    blocked = "".join(f"sys.modules[{m!r}] = None; " for m in modules)
    code = (f"import sys; {blocked}sys.path.insert(0, {ROOT!r}); import src; from src.backends import choice; "
            f"print(choice.choose('checkpoint', measure=lambda c, s: {{n: 1.0 for n in c}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, GLOG_v="3"))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_choice_per_installed_runtime():
    assert _choose_without("openvino", "onnxruntime").startswith("('mindspore', 'auto: mindspore is the only runtime")
    assert _choose_without("openvino").startswith("('onnxruntime', 'auto: onnxruntime is the only ONNX runtime")
    assert _choose_without("onnxruntime").startswith("('openvino', 'auto: openvino is the only ONNX runtime")
    assert "fastest exact runtime" in _choose_without()  # both installed: measured


def test_auto_reproduces_the_mindspore_path(zoo_ckpt, zoo_generator):
    backend = make_backend("auto", zoo_ckpt)
    assert backend.name in ("openvino", "onnxruntime", "mindspore") and backend.choice.startswith("auto: ")
    mel = np.random.default_rng(0).uniform(-11, 2, (80, 300)).astype(np.float32)
    want = Vocoder(zoo_generator)(mel)
    got = Vocoder.from_checkpoint(zoo_ckpt)(mel)  # the default: backend auto
    assert np.max(np.abs(got - want)) <= TOL


def test_auto_measures_the_network_the_source_holds(tmp_path, monkeypatch):
    """Not the zoo's: a 24 kHz hop-300 generator is timed as itself, from memory or from its .onnx."""
    import mindspore as ms

    from src.model import Generator
    from src.model_utils.config import get_config
    from src.onnx_graph import from_generator
    from src.settings import ModelSettings

    monkeypatch.setenv("MELGAN_CACHE_DIR", str(tmp_path / "cache"))
    measured = []

    def measure(candidates, settings):
        measured.append(settings)
        return {name: 1.0 for name in candidates}

    monkeypatch.setattr(choice, "measure_backends", measure)
    settings = ModelSettings.from_config(get_config(["--config_path", os.path.join(ROOT, "configs", "24k_hop300.yaml")]))
    ms.set_seed(3)
    generator = Generator(arch=settings.arch())
    generator.set_train(False)
    generator.settings = settings
    onnx_path = tmp_path / "g.onnx"
    onnx_path.write_bytes(from_generator(generator).SerializeToString())
    make_backend("auto", str(onnx_path))
    assert "measured once, kept" in make_backend("auto", generator).choice  # the same network: its measurement
    assert measured == [settings] and settings.features.hop == 300
