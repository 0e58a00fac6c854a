"""Shared test settings: hypothesis runs derandomized (the same examples on every run, so a
failure is reproducible and CI never flakes) and keeps no example database on disk."""

import torch
from hypothesis import HealthCheck, settings

# The tests use tiny tensors: one thread is faster than several, above all on a shared machine.
torch.set_num_threads(1)

settings.register_profile(
    "chapter3",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chapter3")
