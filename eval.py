"""Synthesize audio with a trained MelGAN generator (the zoo's eval.py), and report its quality.

    python eval.py --eval_data_path DATASET/val --eval_model_path CKPT --output_path OUT [--plot True]
                   [--eval_mode whole|window] [--eval_length 240] [--chunk_frames 240]
                   [--backend auto|mindspore|onnxruntime|openvino] [--precision fp32|bf16]

--eval_model_path is a checkpoint (any backend) or an exported .onnx (onnxruntime, openvino) /
.mindir (mindspore); docs/backends.md says which backend and precision is fastest where.

Inputs (a folder, or one file): `.npy` log-mels (SPEC §1) are vocoded; `.wav` files are
copy-synthesized (SPEC log-mel, then the vocoder). Each becomes OUT/NAME.wav (16-bit, 22050 Hz,
exactly 256 × frames samples). Where the reference audio is known (WAV input, or a val mel whose
WAV is in DATASET/val_wav or --reference_path) OUT/report.csv and report.json get log-mel L1,
MCD, F0 RMSE (cents) and V/UV error, STOI and PESQ; the real-time factor and an estimated MOS
(DNSMOS, no reference needed; also for the reference when known) are always reported.
`--plot True` adds OUT/NAME.png.
OUT/index.html (src/report_page.py) puts, per file, the reference and synthesized audio side by side
with the picture and the report row: open it in a browser to listen (relative links, no JavaScript).
Every output is written to a temp file and renamed: a killed run leaves only complete files,
and rerunning finishes the job. Bad input stops with one line naming the file.
"""
import csv
import io
import json
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from src import cpu_dispatch, metrics, report_page
from src.audio import write_wav
from src.backends import BACKENDS, PRECISIONS
from src.cli import check_device_target, run_main
from src.errors import ConfigError, OutputError
from src.features import ZOO, MelSettings
from src.fileio import check_writable, remove_stale_temps, write_bytes, write_text
from src.audio import check_representation
from src.inputs import check_inputs, list_inputs, manifest_features, read_input
from src.settings import check_declared
from src.model_utils.config import get_config
from src.model_utils.moxing_adapter import moxing_wrapper

REPORT_COLUMNS = ("name", "frames", "seconds", "synth_seconds", "rtf", "x_real_time", "graph_compiled",
                  "log_mel_l1", "mcd_db", "f0_rmse_cents", "vuv_error", "stoi", "pesq_wb", "mos_est",
                  "mos_est_ref")


def check_config(cfg):
    """Values this eval cannot honour stop with one ConfigError line (types are checked by get_config);
    returns the declared representation of the input mels."""
    checks = [
        (cfg.eval_mode in ("whole", "window"), f"--eval_mode must be 'whole' or 'window', got {cfg.eval_mode!r}"),
        (cfg.eval_length >= 8, f"--eval_length must be at least 8 frames, got {cfg.eval_length}"),
        (cfg.backend in BACKENDS + ("auto",), f"--backend must be one of auto, {', '.join(BACKENDS)}, got {cfg.backend!r}"),
        (cfg.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}"),
        (cfg.chunk_frames >= 1, f"--chunk_frames must be positive, got {cfg.chunk_frames}"),
        (cfg.metrics in metrics.LEVELS, f"--metrics must be one of {', '.join(metrics.LEVELS)}, got {cfg.metrics!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    check_device_target(cfg.device_target)
    MelSettings.from_config(cfg)  # the config's feature keys must make sense before they are compared
    representation = (cfg.mel_log, cfg.mel_spectrum)
    check_representation(representation)
    return representation


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def summarize(rows):
    """Means over the files that have each value (compile-free runs only for the speed)."""
    mean = {"name": "MEAN"}
    for key in REPORT_COLUMNS[1:]:
        pool = rows if key not in ("rtf", "x_real_time", "synth_seconds") else \
            [r for r in rows if not r["graph_compiled"]] or rows
        values = [r[key] for r in pool if isinstance(r.get(key), (int, float)) and not isinstance(r[key], bool)]
        mean[key] = float(np.mean(values)) if values else None
    mean["graph_compiled"] = None
    return mean


def write_report(output_path, rows, sample_rate):
    """report.csv + report.json (atomic), and the table on stdout."""
    mean = summarize(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS)
    writer.writeheader()
    for row in rows + [mean]:
        writer.writerow({k: _fmt(row.get(k)) for k in REPORT_COLUMNS})
    write_text(os.path.join(output_path, "report.csv"), text.getvalue())
    notes = {"rtf": "synthesis time / audio duration; the mean leaves out calls that compiled a new graph shape "
                    "(unless every call did)",
             "mcd_db": f"mel-cepstral distortion in dB, SPTK mel-cepstra c1..c{metrics.MCD_COEFFS} (alpha "
                       f"{metrics.mcep_alpha(sample_rate)}), frames paired by index; a few dB for a good vocoder",
             "f0_rmse_cents": "RMSE of the synthesized F0 against the reference's in cents (1200 log2 ratio), over "
                              "the frames voiced in both (WORLD DIO + StoneMask, one frame per mel frame); None "
                              "when no frame is voiced in both",
             "vuv_error": "fraction of frames where exactly one of reference and synthesis is voiced",
             "stoi": "None when pystoi is not installed", "pesq_wb": "None when pesq is not installed",
             "mos_est": "estimated MOS (DNSMOS P.835 OVRL, ~1..5) of the synthesized audio: a learned, "
                        "non-intrusive estimate, not a listening test; it scores espeak-ng speech lower than "
                        "real speech, so compare it with mos_est_ref",
             "mos_est_ref": "the same estimate for the reference audio, when known"}
    write_text(os.path.join(output_path, "report.json"),
               json.dumps({"files": rows, "mean": mean, "notes": notes}, indent=1) + "\n")
    widths = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows + [mean])) for k in REPORT_COLUMNS}
    lines = ["  ".join(k.ljust(widths[k]) for k in REPORT_COLUMNS)]
    lines += ["  ".join(_fmt(r.get(k)).ljust(widths[k]) for k in REPORT_COLUMNS) for r in rows + [mean]]
    print("\n".join(lines))
    return mean


def run(cfg):
    representation = check_config(cfg)
    items = list_inputs(cfg.eval_data_path)
    check_writable(cfg.output_path, "output")
    remove_stale_temps(cfg.output_path)  # what a killed run left (outputs are written atomically)
    for name, path in items:
        if os.path.abspath(os.path.join(cfg.output_path, name + ".wav")) == os.path.abspath(path):
            raise OutputError(f"{path}: output would overwrite this input; choose another --output_path")

    from src.inference import Vocoder  # MindSpore is imported only once the arguments are sane

    if cfg.device_target == "CPU":
        print(cpu_dispatch.startup_line())

    vocoder = Vocoder.from_checkpoint(cfg.eval_model_path, device_target=cfg.device_target, device_id=cfg.device_id,
                                      alpha=cfg.leaky_alpha, backend=cfg.backend, precision=cfg.precision,
                                      mode=cfg.eval_mode, eval_length=cfg.eval_length, chunk_frames=cfg.chunk_frames,
                                      verbose=False)
    print(f"load model done: {cfg.eval_model_path} ({vocoder.backend.describe()}, {cfg.eval_mode} mode, "
          f"{len(items)} file(s))")
    print(f"model settings: {vocoder.settings.describe()}")
    features = vocoder.settings.features
    # The input's features, where known, must be the model's (the most common vocoder mistake).
    check_declared(cfg, vocoder.settings, cfg.eval_model_path)
    recorded, manifest = manifest_features(cfg.eval_data_path)
    bare = sum(path.lower().endswith(".npy") for _, path in items)
    if recorded is not None and bare:
        features.check_input(recorded, manifest)
    elif bare and MelSettings.from_config(cfg) == ZOO:
        # Nothing says how these mels were made; a mismatch (band edges, hop, rate) would be vocoded
        # into worse audio without a word, so say what they are taken to be and how to have them checked.
        print(f"note: {bare} .npy input(s) without manifest.json: taken to be the model's features (see the line "
              f"above); mels from another toolkit: pass their feature keys (--config_path their.yaml or --fmax "
              f"..., --mel_log ...) to have them checked (docs/tts_features.md)")
    check_inputs(items, features)  # bad input stops here, before anything is written
    rows = []
    for name, path in tqdm(items, desc="eval", unit="file"):
        mel, reference, ref_path = read_input(path, cfg.eval_data_path, cfg.reference_path, features, representation,
                                                with_reference=cfg.metrics != "none" or cfg.plot)
        shapes_before = len(vocoder.shapes_seen)
        start = time.perf_counter()
        audio = vocoder(mel, name=path)
        seconds = time.perf_counter() - start
        out_wav = os.path.join(cfg.output_path, name + ".wav")
        write_wav(out_wav, audio, features.sample_rate)
        duration = len(audio) / features.sample_rate
        row = {"name": name, "frames": int(mel.shape[1]), "seconds": duration, "synth_seconds": seconds,
               "rtf": metrics.real_time_factor(seconds, len(audio), features.sample_rate), "x_real_time": duration / seconds,
               "graph_compiled": len(vocoder.shapes_seen) > shapes_before, "reference": ref_path}
        if cfg.metrics == "all":
            row["mos_est"] = metrics.mos_estimate(audio, features.sample_rate)
        if reference is not None:
            row.update(metrics.compare(reference, audio, features, cfg.metrics))
            if cfg.metrics == "all":
                row["mos_est_ref"] = metrics.mos_estimate(reference, features.sample_rate)
        rows.append(row)
        if cfg.plot:
            ref_mel = features.log_mel(reference) if reference is not None else mel
            write_bytes(os.path.join(cfg.output_path, name + ".png"),
                        report_page.spectrogram_png(ref_mel, features.log_mel(audio), name, features.log_min))
    mean = write_report(cfg.output_path, rows, features.sample_rate)
    page = report_page.write_page(cfg.output_path, rows, mean, REPORT_COLUMNS, _fmt)
    print(f"wrote {len(rows)} file(s) to {cfg.output_path}")
    print(f"listen: {page}")
    return rows


def main(argv=None):
    def work():
        cfg = get_config(argv)
        if cfg.enable_modelarts:  # the zoo's ModelArts flow: copy data/checkpoint in, outputs out
            if cfg.checkpoint_file_path:
                cfg.eval_model_path = cfg.checkpoint_file_path
            return moxing_wrapper(config=cfg)(run)(cfg)
        return run(cfg)
    return run_main(work)


if __name__ == "__main__":
    main(sys.argv[1:])
