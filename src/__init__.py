"""MelGAN for MindSpore. Importing any part of it first fixes oneDNN's CPU dispatch (src/cpu_dispatch.py)."""
from src import cpu_dispatch

cpu_dispatch.configure()
