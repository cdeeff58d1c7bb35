"""oneDNN's CPU dispatch (issue #11): the choice, its start-up line, a speed guard, and that entry
points started as subprocesses really run with the chosen setting."""
import os
import subprocess
import sys

import pytest

from src import cpu_check, cpu_dispatch
from tests.trainers import fresh_shell_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AVX512 = {"fpu", "sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
AVX2 = {"fpu", "sse4_1", "avx", "avx2", "fma"}
HAS_AVX512 = cpu_dispatch.isa_level(cpu_dispatch.cpu_info()[1]) == "AVX-512"


def test_avx512_cpu_is_capped_at_avx2_and_says_why():
    env = {}
    choice = cpu_dispatch.configure(env, flags=AVX512)
    assert choice.source == "project" and choice.value == "AVX2"
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2" and env[cpu_dispatch.MARKER] == "AVX2"
    assert choice.line.startswith("CPU: AVX-512 found; oneDNN capped at AVX2 (")
    assert "reference kernel" in choice.line and "ONEDNN_MAX_CPU_ISA=ALL opts out" in choice.line
    assert "\n" not in choice.line


@pytest.mark.parametrize("flags", [AVX2, {"fp", "asimd"}, set()], ids=["avx2", "arm", "unknown"])
def test_cpu_without_avx512_is_left_at_the_default(flags):
    env = {}
    choice = cpu_dispatch.configure(env, flags=flags)
    assert choice.value is None and choice.source == "default" and env == {}
    assert choice.line.startswith("CPU: ") and "default" in choice.line


@pytest.mark.parametrize("var,value", [("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX"),
                                       ("ONEDNN_MAX_CPU_ISA", "ALL"),  # the opt-out
                                       ("DNNL_MAX_CPU_ISA", "SSE41")])  # oneDNN's older name
def test_the_users_own_value_always_wins(var, value):
    env = {var: value}
    choice = cpu_dispatch.configure(env, flags=AVX512)
    assert env == {var: value}  # nothing added or changed
    assert choice.source == "user" and choice.value == value
    assert f"{var}={value} set by the user" in choice.line


def test_a_child_inheriting_the_projects_cap_still_calls_it_the_projects():
    parent = {}
    cpu_dispatch.configure(parent, flags=AVX512)
    child = cpu_dispatch.choose(AVX512, dict(parent))
    assert child.source == "project" and child.value == "AVX2" and "inherited" in child.line


def test_peer_framework_process_runs_uncapped_but_keeps_a_users_value():
    env = {"PATH": "/bin"}
    cpu_dispatch.configure(env, flags=AVX512)
    peer = cpu_dispatch.peer_environ(env)
    assert peer == {"PATH": "/bin", "ONEDNN_MAX_CPU_ISA": "ALL"}
    assert cpu_dispatch.choose(AVX512, peer).source == "user"  # the peer importing src changes nothing
    assert cpu_dispatch.peer_environ({"ONEDNN_MAX_CPU_ISA": "AVX2"}) == {"ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_cpu_info_reads_model_and_flags(tmp_path):
    intel = tmp_path / "intel"
    intel.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
                     "flags\t\t: fpu sse4_1 avx avx2 avx512f amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_dispatch.cpu_info(str(intel)) == ("Intel(R) Xeon(R) Platinum 8480+",
                                                 {"fpu", "sse4_1", "avx", "avx2", "avx512f", "amx_tile"})
    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nflags\t\t: avx2\n\n")
    assert cpu_dispatch.cpu_info(str(zen4)) == ("AMD EPYC (family 25 model 17)", {"avx2"})
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve\nCPU implementer\t: 0x41\n\n")
    assert cpu_dispatch.cpu_info(str(arm))[1] == {"fp", "asimd", "sve"}
    assert cpu_dispatch.isa_level({"fp", "asimd", "sve"}) is None
    assert cpu_dispatch.cpu_info(str(tmp_path / "missing"))[1] is None


def test_this_process_runs_with_the_choice_for_this_cpu():
    choice = cpu_dispatch.CHOICE
    assert choice is not None  # configured by importing src
    if HAS_AVX512 and choice.source != "user":
        assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    header = cpu_dispatch.header()
    assert header.startswith("CPU: ") and "oneDNN" in header


def test_parse_verbose_finds_isa_and_kernel():
    text = ("onednn_verbose,v1,info,cpu,isa:Intel AVX2\n"
            "onednn_verbose,v1,primitive,exec,cpu,convolution,x64:gemm:jit,forward_training,src:f32,,1.2\n")
    assert cpu_check.parse_verbose(text) == ("Intel AVX2", "x64:gemm:jit")
    assert cpu_check.parse_verbose("nothing") == (None, None)


# Guards against the pathology (an order of magnitude from normal, far from the noise): with the
# AVX-512 reference kernel the convolution took ~1,900-2,500 ms and a window 14-24 s; with JIT
# kernels ~10-25 ms and ~180-260 ms on the project's machines.
def test_representative_convolution_runs_at_jit_speed():
    ms_per_conv = cpu_check.conv_ms(repeats=5)
    assert ms_per_conv < 250, f"Conv1d 128->128 k3 over 15360 samples took {ms_per_conv:.0f} ms"


def test_generator_window_runs_at_jit_speed():
    ms_per_window = cpu_check.window_ms(repeats=3)
    assert ms_per_window < 2500, f"one 240-frame generator window took {ms_per_window:.0f} ms"


def test_cpu_check_command_reports_cpu_isa_throughput_and_window():
    done = subprocess.run([sys.executable, "-m", "src.cpu_check", "--repeats", "1"], cwd=ROOT, env=fresh_shell_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    out = done.stdout
    assert out.startswith("CPU: ")
    assert "oneDNN ISA in use: " in out and "not reported" not in out
    assert "GFLOP/s" in out and "x real time" in out and "OK:" in out
    if HAS_AVX512:
        assert "oneDNN ISA in use: Intel AVX2" in out and "ref" not in out.split("kernel: ")[1].split()[0]


def test_vocoder_imported_by_another_program_after_mindspore_runs_with_the_choice():
    # A user's program importing MindSpore first: the cap still applies, since oneDNN reads it at
    # its first primitive, not at import.
    program = ("import mindspore, numpy as np\n"
               "from src.inference import Vocoder\nfrom src.model import Generator\n"
               "print(Vocoder(Generator())(np.full((80, 16), -5.0, np.float32)).shape)\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(fresh_shell_env(), ONEDNN_VERBOSE="1", GLOG_v="3", PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(4096,)" in done.stdout
    isa, impl = cpu_check.parse_verbose(done.stdout)
    assert impl is not None
    if HAS_AVX512:
        assert isa == "Intel AVX2" and "ref" not in impl, (isa, impl)


def test_entry_points_launch_operators_synchronously_on_cpu_only():
    """src.cpu_dispatch.set_device (train.py's context, Vocoder.from_checkpoint, export.py): on CPU,
    MindSpore's launch_blocking (its asynchronous PYNATIVE pipeline is several times slower there,
    benchmarks/bench_pynative.py). Ascend and GPU keep MindSpore's asynchronous launch (no such device here)."""
    program = ("import src, mindspore as ms\nfrom mindspore._c_expression import RuntimeConf\n"
               "from src.model_utils.config import get_config\nfrom src.training import init_context\n"
               "conf = RuntimeConf.get_instance()\nprint('before', conf.is_launch_blocking())\n"
               "init_context(get_config(['--context_mode', 'PYNATIVE']))\nprint('after', conf.is_launch_blocking())\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["before", "False", "after", "True"], done.stdout
