"""Fixtures for tests against the real Slurm of scripts/slurm-up.sh (see tests/slurm.py)."""

from __future__ import annotations

from tests.slurm import slurm as slurm
from tests.slurm import slurm_cluster as slurm_cluster
