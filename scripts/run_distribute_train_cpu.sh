#!/usr/bin/env bash
# Data-parallel training in WORKER_NUM CPU processes, launched by msrun (mccl), in the background.
# Logs: ./train_parallel/worker_{i}.log (msrun's); rank 0 saves checkpoints.
# Usage: bash scripts/run_distribute_train_cpu.sh WORKER_NUM [--key value ...]   (MASTER_PORT=8118)
DEVICE=CPU SCRIPT=$0 exec bash "$(dirname "$0")/run_distribute_train_gpu.sh" "$@"
