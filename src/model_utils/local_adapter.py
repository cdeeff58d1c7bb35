"""Device/rank information from the environment the launch scripts set (the zoo's local_adapter)."""
import os


def get_device_id():
    return int(os.getenv("DEVICE_ID", "0"))


def get_device_num():
    # msrun sets MS_WORKER_NUM; the Ascend rank-table scripts set RANK_SIZE.
    return int(os.getenv("RANK_SIZE", os.getenv("MS_WORKER_NUM", "1")))


def get_rank_id():
    return int(os.getenv("RANK_ID", os.getenv("MS_NODE_ID", "0")))


def get_job_id():
    return "Local Job"
