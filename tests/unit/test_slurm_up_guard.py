"""`scripts/slurm-up.sh` (run by the test command as root) never replaces a machine's own Slurm."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-up.sh"


@pytest.mark.skipif(os.geteuid() != 0, reason="slurm-up.sh refuses to run unless root (checked before the guard)")
def test_a_foreign_slurm_conf_is_left_alone(tmp_path: Path) -> None:
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=production\n")
    result = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True, timeout=30, check=False,
                            env={**os.environ, "SLURM_UP_CONF": str(conf), "SLURM_UP_OVERWRITE": "0"})
    assert result.returncode == 1
    assert result.stderr.startswith(f"slurm-up.sh: {conf} was not written by this script: this machine has a "
                                    "Slurm of its own")
    assert "SLURM_UP_OVERWRITE=1" in result.stderr and result.stdout == ""
    assert conf.read_text() == "ClusterName=production\n"
