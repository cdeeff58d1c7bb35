"""Data parallel on CPU through msrun + mccl: 2 ranks on different shards end with identical
parameters, equal (within float tolerance) to 1 process training on the union of their batches.

The file doubles as the worker: `python tests/test_distributed.py worker OUT [--key value ...]`
trains a few steps the way train.py does (its init_context, create_dataset, MelGANTrainer) and
writes this rank's parameters to OUT/rank{R}.npz.
"""
import hashlib
import os
import socket
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# D has 78 M parameters: compare all of them by digest, these few by value.
D_SAMPLED = ("dis1.conv1.1.conv.weight", "dis2.conv5.0.conv.weight", "dis3.conv7.conv.weight", "avg1.conv.weight")


def run_worker(out_dir, argv):
    sys.path.insert(0, ROOT)
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    import train  # pylint: disable=import-outside-toplevel
    from src.dataset import create_dataset  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.trainer import MelGANTrainer  # pylint: disable=import-outside-toplevel

    cfg = get_config(argv)
    rank, group_size = train.init_context(cfg)
    ms.set_seed(cfg.seed)
    trainer = MelGANTrainer(cfg, group_size)
    dataset = create_dataset(cfg.data_path, cfg.batch_size, cfg.train_length, cfg.hop_size, rank, group_size,
                             num_workers=1, seed=cfg.seed)
    losses = []
    for batch in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
        losses.append(trainer.train_step(*(ms.Tensor(x) for x in batch)))
        if trainer.step >= cfg.max_steps:
            break
    digest = hashlib.sha256()
    arrays = {}
    for net in (trainer.generator, trainer.discriminator):
        for p in net.get_parameters():
            value = p.asnumpy()
            digest.update(value.tobytes())
            if net is trainer.generator or p.name in D_SAMPLED:
                arrays[p.name] = value
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), digest=digest.hexdigest(), group_size=group_size,
             losses=np.array(losses), **arrays)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_rank_data_parallel_matches_one_process(tmp_path):
    from tests.corpus import make_train_folder  # pylint: disable=import-outside-toplevel
    data = make_train_folder(tmp_path / "train", [9000, 11000, 8000, 12000], seed=3)
    common = ["--data_path", data, "--train_length", "8", "--max_steps", "2", "--seed", "7"]
    # msrun starts workers with the `python` on PATH: make it this interpreter.
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    here = os.path.abspath(__file__)
    msrun = os.path.join(os.path.dirname(sys.executable), "msrun")
    cmd = [msrun, "--worker_num=2", "--local_worker_num=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", f"--log_dir={tmp_path / 'msrun_log'}", "--join=True",
           here, "worker", str(two), *common, "--batch_size", "1", "--run_distribute", "True"]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text()[-2000:] for p in (tmp_path / "msrun_log").glob("*.log"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:] + logs
    single = subprocess.run([sys.executable, here, "worker", str(one), *common, "--batch_size", "2"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]

    rank0, rank1, ref = (np.load(p) for p in (two / "rank0.npz", two / "rank1.npz", one / "rank0.npz"))
    assert int(rank0["group_size"]) == 2 and int(ref["group_size"]) == 1
    # Different shards, so different per-rank losses, yet bit-identical parameters after AllReduce.
    assert not np.allclose(rank0["losses"], rank1["losses"])
    assert str(rank0["digest"]) == str(rank1["digest"])
    # Mean of the two ranks' gradients = gradient of the union batch: same parameters, same mean loss.
    np.testing.assert_allclose((rank0["losses"] + rank1["losses"]) / 2, ref["losses"], rtol=1e-3)
    names = [k for k in ref.files if k not in ("digest", "group_size", "losses")]
    assert len(names) == 84 + len(D_SAMPLED)  # every generator tensor, the sampled D ones
    # Adam moves a weight by ~lr whatever the gradient's size, so where a gradient is ~0 float
    # rounding may flip its sign: allow that for a tiny fraction, bounded by 2 * lr * steps.
    lr, steps = 1e-4, 2
    for name in names:
        diff = np.abs(rank0[name] - ref[name])
        assert np.mean(diff > 2e-6 + 1e-3 * np.abs(ref[name])) < 1e-3, name
        assert diff.max() <= 2 * lr * steps + 1e-6, name


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    run_worker(sys.argv[2], sys.argv[3:])
