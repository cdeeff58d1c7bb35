"""Which instruction set oneDNN may use under MindSpore, chosen once per process.

MindSpore 2.10 hands oneDNN plain-layout (`abcd`) f32 convolutions. On a CPU with AVX-512 oneDNN
then picks `jit_uni_ncsp:conv+ref:any`, a reference kernel (~1 GFLOP/s); capped at AVX2 it picks
`gemm:jit` (~150 GFLOP/s). So when the CPU has AVX-512 this module sets `ONEDNN_MAX_CPU_ISA=AVX2`
before MindSpore creates its first kernel (docs/performance.md has the measurements).

`src/__init__.py` calls `configure()`, so every entry point goes through here: train.py, eval.py,
export.py, `from src.inference import Vocoder` in another program, msrun workers, the benchmarks and
the tests. A value the user set (`ONEDNN_MAX_CPU_ISA`, or oneDNN's older `DNNL_MAX_CPU_ISA`) always
wins; `ONEDNN_MAX_CPU_ISA=ALL` opts out (oneDNN's own default). oneDNN reads the variable when it
creates its first primitive, so setting it after `import mindspore` but before any kernel ran works.
`set_device` is how entry points pick MindSpore's device: on CPU it also launches operators
synchronously, which PYNATIVE mode needs to be fast there.
Pure standard library: importing it must not import MindSpore.
"""
import os
import platform
from collections import namedtuple

ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")  # oneDNN reads both; the first wins
CAP = "AVX2"
# Set beside the cap so that child processes (msrun workers, subprocess tests) inheriting the
# variable know it was the project's choice, not their user's.
MARKER = "MELGAN_ONEDNN_ISA_CHOSEN"

Choice = namedtuple("Choice", "value source line")
"""value: what ONEDNN_MAX_CPU_ISA is (None = oneDNN's default); source: 'user' | 'project' | 'default'."""

CHOICE = None  # set by configure()


def cpu_info(path="/proc/cpuinfo"):
    """(model name, set of feature flags) of the first CPU; flags is None where they cannot be read.
    On x86 the name ends with "(family F model M)": a virtual machine's name alone ("AMD EPYC")
    does not tell the CPU generations apart, and benchmark figures are labelled with it."""
    model, flags, family = None, None, {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    if model or flags:
                        break  # end of the first CPU's block
                    continue
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key in ("flags", "Features") and flags is None:
                    flags = set(value.split())
                elif key in ("cpu family", "model") and key not in family:
                    family[key] = value.strip()
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    if len(family) == 2:
        model += f" (family {family['cpu family']} model {family['model']})"
    return model, flags


def isa_level(flags):
    """The highest x86 vector level among the flags: 'AVX-512', 'AVX2', 'AVX', 'SSE' or None (not x86 / unknown)."""
    if not flags:
        return None
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_1", "SSE")):
        if flag in flags:
            return name
    return None


def choose(flags, environ):
    """The ISA cap for this CPU and environment, with the one line that says why (pure)."""
    for var in ISA_VARIABLES:
        value = environ.get(var)
        if value:
            if environ.get(MARKER) == value:
                return Choice(value, "project", _capped_line(value, inherited=True))
            return Choice(value, "user", f"CPU: {var}={value} set by the user; oneDNN left as the user chose")
    level = isa_level(flags)
    if level == "AVX-512":
        return Choice(CAP, "project", _capped_line(CAP))
    if level is None:
        return Choice(None, "default", "CPU: no AVX-512 found; oneDNN at its default")
    return Choice(None, "default", f"CPU: {level}, no AVX-512; oneDNN at its default (its JIT kernels)")


def _capped_line(value, inherited=False):
    return (f"CPU: AVX-512 found; oneDNN capped at {value} (its AVX-512 path for MindSpore's plain-layout "
            f"convolutions is a reference kernel{'; inherited' if inherited else ''}; "
            f"ONEDNN_MAX_CPU_ISA=ALL opts out)")


def configure(environ=None, flags=None):
    """Apply the choice to the environment (once MindSpore runs a kernel it is too late) and return it."""
    global CHOICE  # pylint: disable=global-statement
    environ = os.environ if environ is None else environ
    if flags is None:
        flags = cpu_info()[1]
    choice = choose(flags, environ)
    if choice.source == "project":
        environ[ISA_VARIABLES[0]] = choice.value
        environ[MARKER] = choice.value
    if environ is os.environ:
        CHOICE = choice
    return choice


def set_device(target, device_id=None):
    """`mindspore.set_device`, and on CPU operators launched synchronously (`mindspore.runtime.launch_blocking`).

    MindSpore 2.10's asynchronous PYNATIVE pipeline costs more on a CPU than it overlaps: PYNATIVE
    training steps and forwards take several times longer, with the same results
    (benchmarks/bench_pynative.py, docs/performance.md). Ascend and GPU keep MindSpore's
    asynchronous launch, which there overlaps host and device."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel

    if device_id is None:
        ms.set_device(target)
    else:
        ms.set_device(target, device_id)
    if target == "CPU":
        ms.runtime.launch_blocking()


def startup_line():
    """The line entry points print first: what was chosen and why."""
    return (CHOICE or configure()).line


def header():
    """CPU model, vector level and oneDNN cap: the first line of every benchmark's output."""
    model, flags = cpu_info()
    choice = CHOICE or configure()
    cap = f"oneDNN ISA cap {choice.value} ({choice.source})" if choice.value else "oneDNN ISA: default (no cap)"
    amx = " + AMX" if flags and "amx_tile" in flags else ""
    return f"CPU: {model}, {os.cpu_count()} cores, {isa_level(flags) or 'unknown ISA'}{amx}; {cap}"


def peer_environ(environ=None):
    """The environment for a peer framework's process (PyTorch in a benchmark): the project's cap,
    which would cap the peer's oneDNN too, becomes oneDNN's default (ALL, which this module also
    leaves alone if the peer imports it); a value the user set stays."""
    env = dict(os.environ if environ is None else environ)
    value = env.pop(MARKER, None)
    if value is not None and env.get(ISA_VARIABLES[0]) == value:
        env[ISA_VARIABLES[0]] = "ALL"
    return env


BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # native bf16 dot products (AMX tiles, or AVX-512 BF16)


def bf16_support(flags=None):
    """(True, the flag) where the CPU computes in bf16 natively, else (False, one line saying so)."""
    if flags is None:
        flags = cpu_info()[1]
    found = [f for f in BF16_FLAGS if flags and f in flags]
    if found:
        return True, found[0]
    return False, (f"bf16 is not available on this CPU ({cpu_info()[0]}): it has neither AMX-BF16 nor "
                   f"AVX512-BF16, and emulated bf16 would be slower than fp32; use --precision fp32")


class uncapped:  # pylint: disable=invalid-name
    """Context: the project's oneDNN cap lifted while another runtime's oneDNN (OpenVINO's) reads it.

    OpenVINO carries its own oneDNN, which reads ONEDNN_MAX_CPU_ISA too: capped at AVX2 it has no bf16
    kernels ("object is not initialized") and slower f32 ones. Each oneDNN copy reads the variable once,
    at its first primitive, so lifting it only while OpenVINO compiles leaves MindSpore's copy capped
    (MindSpore has read it already, or reads it later, after the cap is back). A user's value stays.
    """

    def __enter__(self):
        self.saved = os.environ.get(ISA_VARIABLES[0])
        self.lifted = self.saved is not None and os.environ.get(MARKER) == self.saved
        if self.lifted:
            os.environ[ISA_VARIABLES[0]] = "ALL"
        return self

    def __exit__(self, *exc):
        if self.lifted:
            os.environ[ISA_VARIABLES[0]] = self.saved
        return False
