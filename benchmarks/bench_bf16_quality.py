"""What bf16 costs in quality: OpenVINO bf16 against fp32 on real speech, through a checkpoint.

    python benchmarks/bench_bf16_quality.py --checkpoint CKPT [--wavs FOLDER] [--utterances 6]

Copy-synthesis of each WAV (SPEC log-mel, then the vocoder, whole mode) with the MindSpore fp32
backend (the checkpoint's function) and OpenVINO bf16; prints per file the bf16 output's SNR
against fp32 and eval.py's report metrics (log-mel L1, MCD, STOI, PESQ against the WAV) for both.
Without --wavs it speaks a few Harvard sentences with espeak-ng (src/demo_corpus.py), which
the checkpoint has not been trained on only if it was trained on other sentences.
"""
import argparse
import glob
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src import cpu_dispatch, metrics  # noqa: E402

METRICS = ("log_mel_l1", "mcd_db", "stoi", "pesq_wb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--wavs", default="", help="folder of WAVs (default: espeak-ng sentences)")
    parser.add_argument("--utterances", type=int, default=4, help="the last N WAVs (sorted by name)")
    args = parser.parse_args()
    print(cpu_dispatch.header())
    supported, reason = cpu_dispatch.bf16_support()
    if not supported:
        raise SystemExit(f"error: {reason}")

    from src.audio import read_audio
    from src.features import ZOO
    from src.backends import make_backend
    from src.inference import Vocoder

    cpu_dispatch.set_device("CPU")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wavs
        if not folder:
            from src.demo_corpus import make_demo_corpus

            make_demo_corpus(tmp, num_utterances=40)
            folder = os.path.join(tmp, "wavs")
        wavs = sorted(glob.glob(os.path.join(folder, "*.wav")))[-args.utterances:]
        if not wavs:
            raise SystemExit(f"error: {folder}: no .wav files")
        fp32 = Vocoder(make_backend("mindspore", args.checkpoint, "fp32"))
        bf16 = Vocoder(make_backend("openvino", args.checkpoint, "bf16"))
        print(f"checkpoint {args.checkpoint}; {len(wavs)} utterance(s) from {args.wavs or 'espeak-ng (last of 40)'}")
        print(f"{'file':<16}{'sec':>6}{'SNR dB':>8}  " + "  ".join(f"{m + ' fp32/bf16':>22}" for m in METRICS))
        rows = []
        for wav in wavs:
            audio, _ = read_audio(wav)
            mel = ZOO.log_mel(audio)
            a32, a16 = fp32(mel), bf16(mel)
            m32, m16 = metrics.compare(audio, a32), metrics.compare(audio, a16)
            rows.append((metrics.snr_db(a32, a16), m32, m16))
            cells = "  ".join(f"{_fmt(m32.get(m)):>10} / {_fmt(m16.get(m)):<9}" for m in METRICS)
            print(f"{os.path.basename(wav)[:15]:<16}{len(audio) / 22050:>6.2f}{rows[-1][0]:>8.1f}  {cells}")
        mean = lambda values: float(np.mean([v for v in values if v is not None])) if any(  # noqa: E731
            v is not None for v in values) else None
        cells = "  ".join(f"{_fmt(mean([r[1].get(m) for r in rows])):>10} / "
                          f"{_fmt(mean([r[2].get(m) for r in rows])):<9}" for m in METRICS)
        print(f"{'MEAN':<16}{'':>6}{np.mean([r[0] for r in rows]):>8.1f}  {cells}")


def _fmt(value):
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
