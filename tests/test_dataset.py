"""src/dataset.py: the zoo's training item (SPEC §1) through GeneratorDataset."""
import os

import numpy as np
import pytest

from src.errors import DatasetError
from src.features import ZOO, normalize_mel
from src.fileio import save_npy
from src.dataset import MEL_PAD_VALUE, EpochShardSampler, MelGANSource, create_dataset, scan_pairs, set_epoch
from tests.corpus import file_audio, make_train_folder

HOP = 256


def locate(window, audios):
    """(file index, sample offset) of a wav window inside one of the files, by exact match."""
    head = window[:64]
    for k, audio in enumerate(audios):
        for off in np.flatnonzero(audio[:len(audio) - 63] == head[0]):
            if np.array_equal(audio[off:off + len(window)], window):
                return k, int(off)
    raise AssertionError("window not found in any file")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    lengths = [22050, 30000, 17000, 40000, 25600, 19999]
    return make_train_folder(tmp_path_factory.mktemp("train"), lengths)


def batches(ds):
    return [{k: v.copy() for k, v in b.items()} for b in ds.create_dict_iterator(num_epochs=1, output_numpy=True)]


def test_columns_shapes_and_alignment(train_dir):
    ds = create_dataset(train_dir, batch_size=2, train_length=16, num_workers=2, seed=7)
    assert ds.get_col_names() == ["mel", "wav", "mel_d", "wav_d"]
    assert ds.get_dataset_size() == 3
    pairs = scan_pairs(train_dir)
    audios = [file_audio(p[1]) for p in pairs]
    mels = [np.load(p[2]) for p in pairs]
    got = batches(ds)
    assert len(got) == 3
    seen = []
    for b in got:
        assert b["mel"].shape == (2, 80, 16) and b["mel_d"].shape == (2, 80, 16)
        assert b["wav"].shape == (2, 1, 16 * HOP) and b["wav_d"].shape == (2, 1, 16 * HOP)
        assert all(b[k].dtype == np.float32 for k in b)
        for r in range(2):
            k, off = locate(b["wav"][r, 0], audios)
            k_d, off_d = locate(b["wav_d"][r, 0], audios)
            assert k == k_d, "both windows come from the same utterance"
            for o, mel in ((off, b["mel"][r]), (off_d, b["mel_d"][r])):
                assert o % HOP == 0  # wav window = mel window x 256
                np.testing.assert_array_equal(mel, normalize_mel(mels[k][:, o // HOP:o // HOP + 16]))
            seen.append(k)
    assert sorted(seen) == list(range(6)), "one epoch visits every utterance once"


def test_windows_are_independent_and_inside_the_file(train_dir):
    src = MelGANSource(scan_pairs(train_dir), train_length=8, seed=1)
    differ = 0
    for index in range(len(src)):
        mel, wav, mel_d, wav_d = src[index]
        differ += not np.array_equal(wav, wav_d)
        samples = src.pairs[index][3]
        # no window reaches past the audio: no zero padding for clips longer than a window
        assert np.count_nonzero(wav) > 0.99 * wav.size and np.count_nonzero(wav_d) > 0.99 * wav_d.size
        assert samples >= 8 * HOP
    assert differ >= len(src) - 1


def test_short_clip_is_padded(tmp_path):
    root = make_train_folder(tmp_path, [3000, 5000])  # 12 and 20 frames; train_length 32
    src = MelGANSource(scan_pairs(root), train_length=32)
    mel, wav, _, _ = src[0]
    audio, ref = file_audio(os.path.join(root, "wav", "utt000.wav")), np.load(os.path.join(root, "mel", "utt000.npy"))
    assert mel.shape == (80, 32) and wav.shape == (1, 32 * HOP)
    np.testing.assert_array_equal(wav[0, :3000], audio)
    assert not wav[0, 3000:].any()
    np.testing.assert_array_equal(mel[:, :12], normalize_mel(ref))
    np.testing.assert_allclose(mel[:, 12:], (MEL_PAD_VALUE + 5) / 5)
    ds = create_dataset(root, batch_size=2, train_length=32, num_workers=1)
    assert len(batches(ds)) == 1


def test_reproducible_under_seed_and_epochs_advance(train_dir):
    def run(seed, epochs, start_epoch=0):
        ds = create_dataset(train_dir, batch_size=3, train_length=8, num_workers=2, seed=seed,
                            start_epoch=start_epoch)
        it = ds.create_tuple_iterator(num_epochs=epochs, output_numpy=True)
        return [[b[1].copy() for b in it] for _ in range(epochs)]

    a, b = run(3, 2), run(3, 2)
    for ea, eb in zip(a, b):
        for x, y in zip(ea, eb):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0][0], a[1][0]), "a new epoch gives new windows"
    assert not np.array_equal(a[0][0], run(4, 1)[0][0]), "another seed gives other windows"
    resumed = run(3, 1, start_epoch=1)
    for x, y in zip(a[1], resumed[0]):
        np.testing.assert_array_equal(x, y)
    # one iterator per epoch: each new iterator starts where set_epoch says
    ds = create_dataset(train_dir, batch_size=3, train_length=8, num_workers=2, seed=3)
    set_epoch(ds, 1)
    for x, y in zip(a[1], [b[1] for b in ds.create_tuple_iterator(num_epochs=1, output_numpy=True)]):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("num_items,group_size", [(6, 2), (7, 2), (10, 3)])
def test_sharding_is_disjoint_and_covering(num_items, group_size):
    for epoch in range(2):
        shards = [EpochShardSampler(num_items, r, group_size, seed=5).shard_indices(epoch)
                  for r in range(group_size)]
        assert len({len(s) for s in shards}) == 1
        flat = np.concatenate(shards)
        assert set(flat.tolist()) == set(range(num_items))
        # padding to equal shares repeats only as many items as needed
        assert len(flat) - num_items == (-num_items) % group_size


def test_dataset_shards_disjoint(train_dir):
    audios = [file_audio(p[1]) for p in scan_pairs(train_dir)]
    owners = []
    for rank in range(2):
        ds = create_dataset(train_dir, batch_size=3, train_length=8, rank_id=rank, group_size=2,
                            num_workers=1, seed=11)
        assert ds.get_dataset_size() == 1
        owners.append({locate(w[0], audios)[0] for b in batches(ds) for w in b["wav"]})
    assert not owners[0] & owners[1]
    assert owners[0] | owners[1] == set(range(6))


def test_errors_name_the_problem(tmp_path, train_dir):
    with pytest.raises(DatasetError, match="no such folder"):
        create_dataset(str(tmp_path / "nope"), 2, 8)
    make_train_folder(tmp_path / "ds" / "train", [5000])
    with pytest.raises(DatasetError, match="did you mean its train/ folder"):
        create_dataset(str(tmp_path / "ds"), 1, 8)
    os.makedirs(tmp_path / "empty" / "wav")
    os.makedirs(tmp_path / "empty" / "mel")
    with pytest.raises(DatasetError, match="empty dataset"):
        create_dataset(str(tmp_path / "empty"), 2, 8)
    with pytest.raises(DatasetError, match="larger than this rank's share"):
        create_dataset(train_dir, 4, 8, rank_id=0, group_size=2)
    bad = make_train_folder(tmp_path / "bad", [5000, 6000])
    save_npy(os.path.join(bad, "mel", "utt001.npy"), np.zeros((80, 10), np.float32))
    with pytest.raises(DatasetError, match=r"utt001\.wav: 6000 samples need 24 mel frames .* has 10"):
        create_dataset(bad, 1, 8)
    os.remove(os.path.join(bad, "mel", "utt001.npy"))
    with pytest.raises(DatasetError, match=r"utt001\.wav: no matching mel"):
        create_dataset(bad, 1, 8)


def _gta_folder(root, offsets):
    """An acoustic model's teacher-forced mels, simulated: each utterance's mel with `offset` frames more
    (the last frames repeated) or fewer, and distinguishable values (so a window shows where it came from)."""
    gta = os.path.join(root, "gta")
    for i, offset in enumerate(offsets):
        mel = np.load(os.path.join(root, "mel", f"utt{i:03d}.npy")) + 0.5
        mel = np.concatenate([mel, np.repeat(mel[:, -1:], offset, axis=1)], axis=1) if offset >= 0 else mel[:, :offset]
        save_npy(os.path.join(gta, f"utt{i:03d}.npy"), mel.astype(np.float32))
    return gta


def test_gta_mels_within_tolerance_are_fitted_by_the_stated_rule(tmp_path):
    root = make_train_folder(tmp_path, [3000, 3000, 3000])  # 12 frames each; train_length 16 sees them all
    gta = _gta_folder(root, [2, -2, 0])
    pairs = scan_pairs(root, gta_mel_path=gta)
    assert [(p.frames, p.mel_frames) for p in pairs] == [(12, 14), (12, 10), (12, 12)]
    src = MelGANSource(pairs, train_length=16)
    for index in range(3):
        mel = src.read_window(index, 0)[0]
        want = np.load(os.path.join(root, "mel", f"utt{index:03d}.npy")) + 0.5
        if index == 1:  # two frames short: the last one repeated up to the audio's 12
            want = np.concatenate([want[:, :10], np.repeat(want[:, 9:10], 2, axis=1)], axis=1)
        np.testing.assert_allclose(mel[:, :12], normalize_mel(want), atol=1e-6)  # longer: cut at 12
        np.testing.assert_allclose(mel[:, 12:], (MEL_PAD_VALUE + 5) / 5)  # past the audio: as any short clip


def test_gta_mels_beyond_tolerance_or_missing_stop_naming_the_file(tmp_path):
    root = make_train_folder(tmp_path, [3000, 3000])
    gta = _gta_folder(root, [3, 0])
    with pytest.raises(DatasetError, match=r"utt000\.npy has 15 \(GTA mels may differ by up to 2\)"):
        scan_pairs(root, gta_mel_path=gta)
    os.remove(os.path.join(gta, "utt000.npy"))
    with pytest.raises(DatasetError, match=r"utt000\.wav: no matching mel .*gta"):
        scan_pairs(root, gta_mel_path=gta)
    with pytest.raises(DatasetError, match="gta_mel_path"):
        scan_pairs(root, gta_mel_path=str(tmp_path / "nowhere"))


def test_mel_noise_is_off_by_default_and_reproducible(tmp_path):
    root = make_train_folder(tmp_path, [9000, 9000])
    clean = MelGANSource(scan_pairs(root), train_length=16, seed=3)[1]
    noisy = MelGANSource(scan_pairs(root), train_length=16, seed=3, mel_noise_std=0.05)
    first, again = noisy[1], noisy[1]
    np.testing.assert_array_equal(first[0], again[0])  # same (seed, epoch, index): same noise
    np.testing.assert_array_equal(first[1], clean[1])  # audio untouched
    assert 0.04 < np.std(first[0] - clean[0]) < 0.06
