"""Training dataset (SPEC §1): two independent random windows of one utterance per item.

Layout: DATA/wav/NAME.wav (16-bit mono 22050 Hz) beside DATA/mel/NAME.npy (log-mel (80, frames),
frames = 1 + samples // hop). An item is (mel, wav, mel_d, wav_d): a window of `train_length`
normalised mel frames with the matching `train_length * hop` samples for the generator step, and a
second independent window for the discriminator step.

Reproducibility: the shuffle order depends on (seed, epoch) and the windows on (seed, epoch, index),
never on worker scheduling. The sampler runs in the main process and passes the epoch to the workers
inside the index it yields (epoch * N + index), so workers need no shared state.
"""
import os

import mindspore.dataset as msds
import numpy as np
import soundfile as sf

from src.errors import DatasetError
from src.features import ZOO, normalize_mel

COLUMNS = ["mel", "wav", "mel_d", "wav_d"]
# What digital silence looks like after log compression: clips shorter than one window are padded
# with it (mel) and with zeros (audio), so the padded pair is still consistent.
MEL_PAD_VALUE = ZOO.log_min


def _mel_frames(path, n_mels=ZOO.n_mels):
    """Shape of a .npy mel without reading its data; DatasetError naming the file otherwise."""
    try:
        mel = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:
        raise DatasetError(f"{path}: not a readable .npy mel ({str(e).splitlines()[0]})") from None
    if mel.ndim != 2 or mel.shape[0] != n_mels or mel.shape[1] == 0:
        raise DatasetError(f"{path}: expected a log-mel of shape ({n_mels}, frames), got {mel.shape}")
    return mel.shape[1]


def _wav_samples(path):
    try:
        info = sf.info(path)
    except Exception as e:
        raise DatasetError(f"{path}: not readable audio ({str(e).splitlines()[0]})") from None
    if info.channels != 1:
        raise DatasetError(f"{path}: expected mono audio, got {info.channels} channels")
    return info.frames


# An acoustic model's teacher-forced ("GTA") mels may be a frame or two off the audio's 1 + samples // hop
# (other padding conventions): within this many frames they are fitted (longer: the extra frames at the
# end are cut; shorter: the last frame is repeated), beyond it the pairing is wrong and training stops.
GTA_TOLERANCE = 2


NONFINITE_HINT = "recompute it with preprocess.py or remove the pair from the dataset"


class Pair(tuple):
    """(name, wav_path, mel_path, samples, frames, mel_frames): frames = 1 + samples // hop, what the
    audio needs; mel_frames, what the mel file holds (equal, except for a fitted GTA mel)."""
    __slots__ = ()

    def __new__(cls, *fields):
        return super().__new__(cls, fields)

    name = property(lambda self: self[0])
    frames = property(lambda self: self[4])
    mel_frames = property(lambda self: self[5])


def scan_pairs(data_path, hop_size=ZOO.hop, gta_mel_path="", n_mels=ZOO.n_mels):
    """List the Pairs of DATA/{wav,mel}, checking every pair. With `gta_mel_path`, the mels are read
    from that folder instead (NAME.npy beside each DATA/wav/NAME.wav), within GTA_TOLERANCE frames."""
    wav_dir = os.path.join(data_path, "wav")
    mel_dir = gta_mel_path or os.path.join(data_path, "mel")
    for folder in (data_path, wav_dir, mel_dir):
        if not os.path.isdir(folder):
            if folder == gta_mel_path:
                raise DatasetError(f"{folder}: no such folder (gta_mel_path: the acoustic model's mels, NAME.npy "
                                   f"for each {wav_dir}/NAME.wav)")
            hint = ("; did you mean its train/ folder?" if os.path.isdir(os.path.join(data_path, "train", "wav"))
                    else "; run preprocess.py first")
            raise DatasetError(f"{folder}: no such folder (expected {data_path}/wav and {data_path}/mel{hint})")
    names = sorted(f[:-4] for f in os.listdir(wav_dir) if f.endswith(".wav") and not f.startswith("."))
    mel_names = {f[:-4] for f in os.listdir(mel_dir) if f.endswith(".npy") and not f.startswith(".")}
    if not names:
        raise DatasetError(f"{wav_dir}: no .wav files (empty dataset)")
    pairs = []
    for name in names:
        wav_path, mel_path = os.path.join(wav_dir, name + ".wav"), os.path.join(mel_dir, name + ".npy")
        if name not in mel_names:
            raise DatasetError(f"{wav_path}: no matching mel {mel_path}")
        samples, mel_frames = _wav_samples(wav_path), _mel_frames(mel_path, n_mels)
        frames = 1 + samples // hop_size
        tolerance = GTA_TOLERANCE if gta_mel_path else 0
        if abs(mel_frames - frames) > tolerance:
            allowed = f" (GTA mels may differ by up to {GTA_TOLERANCE})" if gta_mel_path else ""
            raise DatasetError(f"{wav_path}: {samples} samples need {frames} mel frames "
                               f"(hop {hop_size}) but {mel_path} has {mel_frames}{allowed}")
        pairs.append(Pair(name, wav_path, mel_path, samples, frames, mel_frames))
    return pairs


class MelGANSource:
    """Random-access source for GeneratorDataset; index = epoch * len(self) + utterance."""

    def __init__(self, pairs, train_length, hop_size=ZOO.hop, seed=1234, mel_noise_std=0.0, n_mels=ZOO.n_mels):
        self.pairs = pairs
        self.train_length = train_length
        self.hop_size = hop_size
        self.seed = seed
        self.mel_noise_std = mel_noise_std
        self.n_mels = n_mels

    def __len__(self):
        return len(self.pairs)

    def window_start(self, frames, rng):
        """Random first frame; the window's audio must lie inside the file, hence frames - 1."""
        last = frames - 1 - self.train_length
        return int(rng.integers(0, last + 1)) if last >= 0 else 0

    def read_window(self, index, start, rng=None):
        """(normalised mel (n_mels, L), wav (1, L*hop)) for frames [start, start + L), padded if short.
        A GTA mel shorter than the audio's frames repeats its last frame up to them (GTA_TOLERANCE).
        With mel_noise_std, Gaussian noise of that deviation is added to the normalised mel."""
        _, wav_path, mel_path, samples, frames, mel_frames = self.pairs[index]
        length, hop = self.train_length, self.hop_size
        mel = np.full((self.n_mels, length), MEL_PAD_VALUE, dtype=np.float32)
        stored = np.load(mel_path, mmap_mode="r")
        part = stored[:, start:min(start + length, frames)]
        if not np.isfinite(part).all():  # the window only: cheap, and every window of a file is read in time
            bad = int(np.flatnonzero(~np.isfinite(part).all(axis=0))[0]) + start
            raise DatasetError(f"{mel_path}: non-finite value (NaN or Inf) in mel frame {bad}; "
                               f"{NONFINITE_HINT}")
        mel[:, :part.shape[1]] = part
        missing_from = max(mel_frames - start, 0)  # window columns past the GTA mel's last frame
        if mel_frames < frames and missing_from < min(length, frames - start):
            mel[:, missing_from:min(length, frames - start)] = stored[:, mel_frames - 1:mel_frames]
        wav = np.zeros(length * hop, dtype=np.float32)
        audio = sf.read(wav_path, start=start * hop, stop=min(samples, (start + length) * hop),
                        dtype="int16")[0]
        wav[:len(audio)] = audio.astype(np.float32) / 32768.0
        mel = normalize_mel(mel)
        if self.mel_noise_std > 0:
            mel = (mel + rng.normal(0.0, self.mel_noise_std, mel.shape)).astype(np.float32)
        return mel, wav[None, :]

    def __getitem__(self, encoded):
        epoch, index = divmod(int(encoded), len(self.pairs))
        rng = np.random.default_rng([self.seed, epoch, index])
        frames = self.pairs[index][4]
        mel, wav = self.read_window(index, self.window_start(frames, rng), rng)
        mel_d, wav_d = self.read_window(index, self.window_start(frames, rng), rng)
        return mel, wav, mel_d, wav_d


class EpochShardSampler(msds.Sampler):
    """Distributed sampler: one permutation per (seed, epoch) shared by all ranks, padded to a
    multiple of group_size by repeating its head (like torch's DistributedSampler), then every
    group_size-th index from rank_id. Yields epoch * N + index (see MelGANSource)."""

    def __init__(self, num_items, rank_id=0, group_size=1, shuffle=True, seed=1234, start_epoch=0):
        self.num_items = num_items
        self.rank_id, self.group_size = rank_id, group_size
        self.shuffle, self.seed = shuffle, seed
        self.epoch = start_epoch
        super().__init__(num_samples=self.shard_size())

    def shard_size(self):
        return -(-self.num_items // self.group_size)

    def set_epoch(self, epoch):
        """The next iteration (epoch) starts with this epoch number."""
        self.epoch = epoch

    def shard_indices(self, epoch):
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
        else:
            order = np.arange(self.num_items)
        total = self.shard_size() * self.group_size
        order = np.concatenate([order, order[:total - self.num_items]])
        return order[self.rank_id:total:self.group_size]

    def __iter__(self):
        # MindSpore calls this once per epoch in the main process (possibly one epoch ahead).
        epoch = self.epoch
        self.epoch += 1
        for index in self.shard_indices(epoch):
            yield epoch * self.num_items + int(index)


def create_dataset(data_path, batch_size, train_length, hop_size=ZOO.hop, rank_id=0, group_size=1,
                   num_workers=2, seed=1234, shuffle=True, repeat=1, start_epoch=0, gta_mel_path="",
                   mel_noise_std=0.0, n_mels=ZOO.n_mels):
    """Batched mindspore.dataset with columns ["mel", "wav", "mel_d", "wav_d"]:
    mel/mel_d float32 (B, 80, train_length), already normalised ((log_mel + 5) / 5);
    wav/wav_d float32 (B, 1, train_length * hop_size) in [-1, 1] (int16 / 32768).

    data_path holds wav/ and mel/ (DATASET/train); `gta_mel_path` replaces mel/ with an acoustic model's
    teacher-forced mels (fine-tuning), `mel_noise_std` adds noise to the input mels. Sharded by (rank_id, group_size), remainder
    dropped. Epochs: within one iterator (`create_dict_iterator(num_epochs=N)`, `repeat`) they
    advance by themselves, starting at `start_epoch` (a resumed run passes the epoch it resumes at
    to get the same order and windows). MindSpore copies the pipeline for every new iterator, so
    code that makes a new iterator per epoch calls `set_epoch(dataset, e)` before each one.
    Raises a one-line DatasetError naming the folder/file for a missing folder, an empty dataset, a
    batch larger than this rank's share, or a WAV/mel pair whose lengths disagree; a mel window with a
    non-finite value stops the iteration with one naming the file (see dataset_error_in).
    """
    if not 0 <= rank_id < group_size:
        raise DatasetError(f"rank_id {rank_id} must be in [0, group_size={group_size})")
    if batch_size < 1 or train_length < 1:
        raise DatasetError(f"batch_size ({batch_size}) and train_length ({train_length}) must be >= 1")
    pairs = scan_pairs(data_path, hop_size, gta_mel_path, n_mels)
    source = MelGANSource(pairs, train_length, hop_size, seed, mel_noise_std, n_mels)
    sampler = EpochShardSampler(len(pairs), rank_id, group_size, shuffle, seed, start_epoch)
    if batch_size > sampler.shard_size():
        raise DatasetError(f"{data_path}: batch_size {batch_size} is larger than this rank's share of "
                         f"{sampler.shard_size()} utterances ({len(pairs)} in total, {group_size} ranks)")
    workers = max(1, int(num_workers))
    dataset = msds.GeneratorDataset(source, column_names=COLUMNS, sampler=sampler,
                                    num_parallel_workers=workers, python_multiprocessing=workers > 1)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if repeat > 1:
        dataset = dataset.repeat(repeat)
    dataset.sampler_for_epochs = sampler
    return dataset


def dataset_error_in(error):
    """The DatasetError a MelGANSource raised in the pipeline (MindSpore re-raises it, from the main
    process or a worker, as a RuntimeError holding its traceback), else None."""
    import re  # pylint: disable=import-outside-toplevel

    found = [m for m in re.findall(r"DatasetError: (.+)$", str(error), re.MULTILINE) if not m.startswith("Traceback")]
    return DatasetError(found[-1].strip()) if found else None


def set_epoch(dataset, epoch):
    """Make the next iterator created from `dataset` (from create_dataset) start at `epoch`."""
    dataset.sampler_for_epochs.set_epoch(epoch)
