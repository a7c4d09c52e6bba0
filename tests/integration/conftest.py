"""Fixtures for tests against the real Slurm of scripts/slurm-up.sh (see tests/slurm.py)."""

from __future__ import annotations

from tests.s3 import private_s3 as private_s3
from tests.s3 import s3_bucket as s3_bucket
from tests.s3 import s3_env as s3_env
from tests.s3 import s3_server as s3_server
from tests.slurm import slurm as slurm
from tests.slurm import slurm_cluster as slurm_cluster
