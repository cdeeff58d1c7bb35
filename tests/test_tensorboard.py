"""TensorBoard logging during training (issue #20, `tensorboard: True`, src/tensorboard_log.py).

A real short run of the loop (the shared small trainer: 2 warm-up steps, then G and D, the spectral
losses on) with the learning curve; its event files are read back here without TensorBoard: the
TFRecord framing by hand (uint64 length, its masked CRC-32C, the payload, its masked CRC-32C) and
each payload decoded as tensorboardX's Event protocol buffer.
"""
import csv
import glob
import io
import os
import struct
import sys

import numpy as np
import pytest
import soundfile as sf
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import masked_crc32c

import train
from src import tensorboard_log, training
from src.training import train as train_loop
from tests.trainers import TINY, log_lines

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_events(folder):
    """Every Event of the folder's event files, oldest file first."""
    events = []
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        data, pos = open(path, "rb").read(), 0
        while pos < len(data):
            header = data[pos:pos + 8]
            (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack("<I", data[pos + 8:pos + 12])
            payload = data[pos + 12:pos + 12 + length]
            (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
            assert header_crc == masked_crc32c(header) and payload_crc == masked_crc32c(payload), path
            events.append(Event.FromString(payload))
            pos += 16 + length
    return events


def by_tag(events):
    """{tag: [(step, Summary.Value), ...]} in the order written."""
    tags = {}
    for event in events:
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append((event.step, value))
    return tags


def steps(entries):
    return [step for step, _ in entries]


def scalars(entries):
    return [value.simple_value for _, value in entries]


def test_event_files_hold_losses_scales_metrics_audio_and_pictures(shared_trainer, dataset, tmp_path, capsys,
                                                                    graph_mode):
    out = tmp_path / "out"
    train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "3", "--save_steps", "3",
                                     "--eval_every", "3", "--save_checkpoint_path", str(out), "--tensorboard", "True"),
               shared_trainer.fresh())
    lines = log_lines(capsys.readouterr().out)
    assert sorted(os.listdir(out)) == ["learning_curve.csv", "melgan-1_3.ckpt", "melgan-best.ckpt", "tensorboard"]
    assert len(os.listdir(out / "tensorboard")) == 1
    events = read_events(out / "tensorboard")
    assert events[0].file_version == "brain.Event:2"
    tags = by_tag(events)

    # the loop's log line, step by step (float32 in the file); steps 1-2 are the warm-up: D not run
    loss_g = tags["train/loss_G"]
    assert steps(loss_g) == [1, 2, 3]
    np.testing.assert_allclose(scalars(loss_g), [float(g) for _, _, g, _, _ in lines], rtol=1e-6)
    assert steps(tags["train/loss_D"]) == [3]
    np.testing.assert_allclose(scalars(tags["train/loss_D"]), [float(d) for _, _, _, d, _ in lines[2:]], rtol=1e-6)
    spectral = tags["train/loss_spectral"]
    assert steps(spectral) == [1, 2, 3]
    assert scalars(spectral)[:2] == scalars(loss_g)[:2]  # the warm-up's L_G is the spectral loss alone
    assert all(0 < s < g for s, g in zip(scalars(spectral)[2:], scalars(loss_g)[2:]))  # a term of L_G
    assert [(s, v.simple_value) for s, v in tags["train/loss_scale_G"]] == [(1, 1024), (2, 1024), (3, 1024)]
    assert [(s, v.simple_value) for s, v in tags["train/loss_scale_D"]] == [(3, 1024)]
    assert steps(tags["train/step_seconds"]) == [1, 2, 3] and min(scalars(tags["train/step_seconds"])) > 0
    np.testing.assert_allclose(scalars(tags["train/step_seconds"]), [float(s) for *_, s in lines], atol=0.006)

    # the learning curve's rows (at the start, then every 3 steps)
    with open(out / "learning_curve.csv", newline="") as f:
        curve = {int(r["step"]): r for r in csv.DictReader(f)}
    for key in tensorboard_log.VAL_METRICS:
        assert steps(tags[f"val/{key}"]) == [0, 3], key
        np.testing.assert_allclose(scalars(tags[f"val/{key}"]), [float(curve[s][key]) for s in (0, 3)], rtol=1e-6)

    # the val clip (one here): its synthesis at each evaluation, its reference once
    frames = np.load(dataset / "val" / "v1.npy").shape[1]
    reference, rate = sf.read(dataset / "val_wav" / "v1.wav", dtype="int16")
    synthesized = tags["val/v1/synthesized"]
    assert steps(synthesized) == [0, 3] and steps(tags["val/v1/reference"]) == [0]
    decoded = []
    for _, value in synthesized + tags["val/v1/reference"]:
        assert (value.audio.sample_rate, value.audio.num_channels) == (rate, 1) == (22050, 1)
        assert value.audio.content_type == "audio/wav"
        samples, wav_rate = sf.read(io.BytesIO(value.audio.encoded_audio_string), dtype="int16")
        assert wav_rate == rate and len(samples) == value.audio.length_frames
        decoded.append(samples)
    assert [len(s) for s in decoded] == [256 * frames] * 2 + [len(reference)]
    np.testing.assert_array_equal(decoded[2], reference)
    assert not np.array_equal(decoded[0], decoded[1])  # the generator of that step

    # the reference log-mel above the synthesized one, as eval.py draws it
    pictures = tags["val/v1/log_mel"]
    assert steps(pictures) == [0, 3]
    for _, value in pictures:
        png = value.image.encoded_image_string
        assert png[:8] == PNG_SIGNATURE and struct.unpack(">II", png[16:24]) == (800, 480)  # 10 x 6 in at 80 dpi
        assert (value.image.width, value.image.height, value.image.colorspace) == (800, 480, 4)
        assert 10_000 < len(png) < 1_000_000
    assert set(tags) == {"train/loss_G", "train/loss_D", "train/loss_spectral", "train/loss_scale_G",
                         "train/loss_scale_D", "train/step_seconds", "val/v1/synthesized", "val/v1/reference",
                         "val/v1/log_mel"} | {f"val/{key}" for key in tensorboard_log.VAL_METRICS}


class Failure(Exception):
    pass


def test_the_log_is_on_disk_after_an_error_and_off_by_default(shared_trainer, dataset, tmp_path, graph_mode):
    def fail(trainer, _losses):
        raise Failure(f"step {trainer.step}")

    out = tmp_path / "out"
    with pytest.raises(Failure):
        train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "4",
                                         "--save_checkpoint_path", str(out), "--tensorboard", "True"),
                   shared_trainer.fresh(), on_step=fail)
    # closed on the way out: queued events would otherwise wait for tensorboardX's 2-minute flush
    tags = by_tag(read_events(out / "tensorboard"))
    assert steps(tags["train/loss_G"]) == [1] and "train/loss_D" not in tags

    off = tmp_path / "off"
    train_loop(shared_trainer.config("--data_path", str(dataset / "train"), "--max_steps", "1",
                                     "--save_checkpoint_path", str(off)), shared_trainer.fresh())
    assert os.listdir(off) == ["melgan-1_1.ckpt"]


def test_only_rank_0_opens_a_log(shared_trainer, tmp_path):
    """What train() decides with `is_main` (rank 0); tests/test_distributed.py's two-rank run has the log
    on and finds one event file."""
    cfg = shared_trainer.config("--save_checkpoint_path", str(tmp_path / "out"), "--tensorboard", "True")
    with tensorboard_log.open_log(cfg, is_main=False) as board:
        assert board is None
    with tensorboard_log.open_log(shared_trainer.config("--save_checkpoint_path", str(tmp_path / "out")),
                                  is_main=True) as board:
        assert board is None
    assert not (tmp_path / "out").exists()
    with tensorboard_log.open_log(cfg, is_main=True) as board:
        assert board is not None
    assert len(os.listdir(tmp_path / "out" / "tensorboard")) == 1


def test_missing_tensorboardx_stops_with_one_line_before_the_networks(dataset, tmp_path, monkeypatch, graph_mode):
    def refuse(*args, **kwargs):
        raise AssertionError("networks built before the input was checked")

    monkeypatch.setattr(training, "MelGANTrainer", refuse)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(SystemExit) as stop:
        train.main(["--data_path", str(dataset / "train"), *TINY, "--save_checkpoint_path", str(tmp_path / "out"),
                    "--tensorboard", "True"])
    message = str(stop.value.code)
    assert message.startswith("error: config: tensorboard True needs the tensorboardX package") and "\n" not in message
