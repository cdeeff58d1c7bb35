"""Data parallel on CPU through msrun + mccl: 2 ranks on different shards end with identical
parameters, equal (within float tolerance) to 1 process training on the union of their batches.

The file doubles as the worker: `python tests/test_distributed.py worker OUT [--key value ...]`
runs the training loop (src.training.train, as train.py does) on the zoo's generator and a narrow
discriminator (tests/trainers.py), and writes this rank's parameters and losses to OUT/rank{R}.npz.
"""
import hashlib
import os
import signal
import socket
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# compare every parameter by digest, the generator's and these few of D's by value
D_SAMPLED = ("dis1.conv1.1.conv.weight", "dis2.conv5.0.conv.weight", "dis3.conv7.conv.weight", "avg1.conv.weight")


def run_worker(out_dir, argv):
    sys.path.insert(0, ROOT)
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from src.model_utils.config import get_config  # pylint: disable=import-outside-toplevel
    from src.training import init_context, train  # pylint: disable=import-outside-toplevel
    from tests.trainers import small_trainer  # pylint: disable=import-outside-toplevel

    cfg = get_config(argv)
    rank, group_size = init_context(cfg)  # the trainer's gradient reducer needs the group
    ms.set_seed(cfg.seed)
    losses = []
    trainer = train(cfg, small_trainer(argv, group_size), on_step=lambda _, step_losses: losses.append(step_losses))
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


def test_two_rank_data_parallel_matches_one_process(dataset, tmp_path):
    common = ["--data_path", str(dataset / "train"), "--train_length", "8", "--max_steps", "2", "--seed", "7",
              "--num_workers", "1"]
    # msrun starts workers with the `python` on PATH: make it this interpreter.
    env = dict(os.environ, GLOG_v="3", PYTHONPATH=ROOT,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    here = os.path.abspath(__file__)
    msrun = os.path.join(os.path.dirname(sys.executable), "msrun")
    commands = {
        "msrun": [msrun, "--worker_num=2", "--local_worker_num=2", "--master_addr=127.0.0.1",
                  f"--master_port={free_port()}", f"--log_dir={tmp_path / 'msrun_log'}", "--join=True",
                  here, "worker", str(two), *common, "--batch_size", "1", "--run_distribute", "True",
                  "--save_checkpoint_path", str(two / "ckpt")],
        "one process": [sys.executable, here, "worker", str(one), *common, "--batch_size", "2",
                        "--save_checkpoint_path", str(one / "ckpt")],
    }
    # Both at once (each is mostly a single-threaded graph compile); each in its own process group, so
    # that msrun's workers end with the test whatever happens.
    procs = {}
    try:
        for name, cmd in commands.items():
            with open(tmp_path / f"{name}.out", "w") as out:
                procs[name] = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True)
        for name, proc in procs.items():
            proc.wait(timeout=600)
            logs = "".join(p.read_text()[-2000:] for p in (tmp_path / "msrun_log").glob("*.log"))
            assert proc.returncode == 0, f"{name}: {(tmp_path / f'{name}.out').read_text()[-3000:]}" + (
                logs if name == "msrun" else "")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    rank0, rank1, ref = (np.load(p) for p in (two / "rank0.npz", two / "rank1.npz", one / "rank0.npz"))
    assert int(rank0["group_size"]) == 2 and int(ref["group_size"]) == 1
    assert rank0["losses"].shape == (2, 2)  # two steps of (loss_G, loss_D)
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
    # rank 0 alone saved, through the loop
    assert os.listdir(two / "ckpt") == ["melgan-1_2.ckpt"]


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    run_worker(sys.argv[2], sys.argv[3:])
