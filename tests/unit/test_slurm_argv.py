"""The sbatch command line (reference §5.5), with `--hold` once and an explicit environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

import pytest

from eessi_bot.adapters.local_jobs import time_limit_seconds
from eessi_bot.adapters.slurm import sbatch_argv, sbatch_environment
from eessi_bot.ports.scheduler import Submission, SubmitError


def submission(options: Tuple[str, ...] = (), hold: bool = True, delay: Optional[int] = None) -> Submission:
    return Submission(job_dir=Path("/jobs/x"), script=Path("/bot/bot-build.slurm"), name="prod", marker="d:0:n:r",
                      options=options, hold=hold, begin_delay=delay,
                      environment={"PATH": "/usr/bin", "HOME": "/home/bot"})


@pytest.mark.parametrize(("sub", "expected"), [
    (submission(("-p", "zen2")),
     ["sbatch", "--hold", "--time=24:00:00", "-p", "zen2", "--job-name=prod", "--comment=d:0:n:r",
      "--export=HOME,PATH", "/bot/bot-build.slurm"]),
    (submission(("--time=1:00:00",)),
     ["sbatch", "--hold", "--time=1:00:00", "--job-name=prod", "--comment=d:0:n:r", "--export=HOME,PATH",
      "/bot/bot-build.slurm"]),
    (submission(("-t", "30")),
     ["sbatch", "--hold", "-t", "30", "--job-name=prod", "--comment=d:0:n:r", "--export=HOME,PATH",
      "/bot/bot-build.slurm"]),
    (submission(hold=False, delay=120),
     ["sbatch", "--begin=now+120", "--time=24:00:00", "--job-name=prod", "--comment=d:0:n:r",
      "--export=HOME,PATH", "/bot/bot-build.slurm"]),
    (submission(("--time-min=30",)),
     ["sbatch", "--hold", "--time=24:00:00", "--time-min=30", "--job-name=prod", "--comment=d:0:n:r",
      "--export=HOME,PATH", "/bot/bot-build.slurm"]),
    (submission(("--export=ALL",)),
     ["sbatch", "--hold", "--time=24:00:00", "--export=ALL", "--job-name=prod", "--comment=d:0:n:r",
      "--export=HOME,PATH", "/bot/bot-build.slurm"]),
], ids=["hold-default-time", "own-time", "short-time-flag", "delayed-begin", "time-min-is-no-limit",
        "bots-export-comes-last-and-wins"])
def test_sbatch_argv(sub: Submission, expected: list) -> None:
    assert list(sbatch_argv(("sbatch",), sub)) == expected
    assert list(sbatch_argv(("sbatch",), sub)).count("--hold") <= 1


def test_sbatch_gets_the_jobs_variables_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--export=NAME` takes the value from sbatch's own environment, so that holds the job's variables."""
    monkeypatch.setenv("GITHUB_APP_SECRET_TOKEN", "s")
    for name in [n for n in os.environ if n.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    env = sbatch_environment({"PATH": "/usr/bin", "MODULEPATH": "/m", "http_proxy": "http://p:3128"})
    assert env == {"PATH": "/usr/bin", "MODULEPATH": "/m", "http_proxy": "http://p:3128"}


def test_sbatch_gets_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_APP_SECRET_TOKEN", "s")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("SLURM_CONF", "/etc/slurm/other.conf")
    env = sbatch_environment({"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/other.conf"}


@pytest.mark.parametrize(("options", "seconds"), [
    ((), 86400), (("--time=10",), 600), (("-t", "1:30"), 90), (("--time=2:00:00",), 7200),
    (("-t1-2",), 93600), (("--time=1-02:03",), 93780), (("--time=1-02:03:04",), 93784),
])
def test_local_time_limit(options: Tuple[str, ...], seconds: int) -> None:
    assert time_limit_seconds(options) == seconds


def test_local_time_limit_garbage() -> None:
    with pytest.raises(SubmitError, match="cannot understand the time limit"):
        time_limit_seconds(("--time=soon",))
