"""The Slurm of scripts/slurm-up.sh is what the bot's tests need: node types, held jobs, comments, the
environment a job sees, error text, and every end state the job manager reads from sacct."""

from __future__ import annotations

import os
import pwd
import time
from typing import Dict, List, Set

import pytest

from tests.slurm import (
    SEP,
    SlurmError,
    SlurmSession,
    force_timeout,
    parse_scontrol,
    read_env0,
    release,
    run,
    sacct_job,
    scontrol_job,
    squeue_job,
    wait_state,
)

# A job that runs until the test creates the file "go" in its work dir (at most 60 s), so a test can look
# at it while it is RUNNING without racing against its end.
WAIT_FOR_GO = "for i in $(seq 600); do [ -e go ] && exit 0; sleep 0.1; done; exit 9"
NODE_READY = {"idle", "mixed", "allocated", "completing"}


def test_cluster_has_four_node_types_and_their_partitions(slurm_cluster: None) -> None:
    out = run(["sinfo", "-h", "-N", "-o", SEP.join(["%N", "%P", "%f", "%c", "%T"])])
    features: Dict[str, str] = {}
    partitions: Dict[str, Set[str]] = {}
    for line in out.splitlines():
        node, partition, node_features, cpus, state = line.split(SEP)
        features[node] = node_features
        partitions.setdefault(partition, set()).add(node)
        assert cpus == "2" and state in NODE_READY, line
    assert features == {"n1": "x86_64,zen2", "n2": "x86_64,zen3", "n3": "x86_64,zen4", "n4": "aarch64,neoverse_v1"}
    assert partitions["debug*"] == {"n1", "n2", "n3", "n4"}, "debug is the default partition, with every node"
    assert partitions["x86_64"] == {"n1", "n2", "n3"}
    assert partitions["aarch64"] == {"n4"}
    assert (partitions["zen2"], partitions["zen3"], partitions["zen4"]) == ({"n1"}, {"n2"}, {"n3"})


def test_held_job_is_pending_then_runs_when_released_and_completes(slurm: SlurmSession) -> None:
    job = slurm.submit("--hold", "--wrap", WAIT_FOR_GO)
    held = squeue_job(job)
    assert held is not None
    assert (held["state"], held["reason"], held["partition"], held["nodelist"]) == (
        "PENDING", "JobHeldUser", "debug", "")

    released_at = time.monotonic()
    release(job)
    wait_state(job, "RUNNING", timeout=10)
    assert time.monotonic() - released_at < 5, "release -> RUNNING takes about 1 s (slurmctld's 1-s loop)"
    (slurm.workdir / "go").touch()
    wait_state(job, "COMPLETED")

    row = sacct_job(job)
    assert (row["State"], row["ExitCode"], row["Partition"], row["JobName"]) == (
        "COMPLETED", "0:0", "debug", slurm.name)


@pytest.mark.parametrize(("args", "node"), [
    (["-p", "zen3"], "n2"),
    (["--constraint=zen4"], "n3"),
    (["-p", "aarch64"], "n4"),
    (["-p", "x86_64", "--constraint=zen2"], "n1"),
])
def test_partition_or_constraint_selects_the_node_type(slurm: SlurmSession, args: List[str], node: str) -> None:
    job = slurm.submit(*args, "--wrap", "echo $SLURMD_NODENAME $SLURM_JOB_PARTITION")
    wait_state(job, "COMPLETED")
    seen = squeue_job(job)
    assert seen is not None and seen["nodelist"] == node
    assert slurm.output(job).split()[0] == node


def test_sbatch_errors_are_on_stderr(slurm: SlurmSession) -> None:
    with pytest.raises(SlurmError) as bad_partition:
        slurm.submit("-p", "nosuch", "--wrap", "true")
    assert bad_partition.value.returncode == 1
    assert "invalid partition" in bad_partition.value.stderr.lower()
    with pytest.raises(SlurmError) as bad_feature:
        slurm.submit("--constraint=sparc", "--wrap", "true")
    assert "Invalid feature specification" in bad_feature.value.stderr
    assert slurm.jobs() == []


def test_comment_constraint_and_name_are_visible_in_squeue_and_scontrol(slurm: SlurmSession) -> None:
    comment = "eessi-bot:job:o/r#7 key=abc|def; two  spaces JobId=99"
    job = slurm.submit("--hold", f"--comment={comment}", "--constraint=zen2|zen3", "--wrap", "true")
    seen = squeue_job(job)
    assert seen is not None
    assert (seen["comment"], seen["features"], seen["name"]) == (comment, "zen2|zen3", slurm.name)
    assert seen["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert slurm.jobs() == [job]

    shown = scontrol_job(job)
    assert shown is not None
    assert shown["JobId"] == job and shown["JobState"] == "PENDING" and shown["Reason"] == "JobHeldUser"
    assert shown["Comment"] == comment and shown["Features"] == "zen2|zen3" and shown["JobName"] == slurm.name
    assert shown["WorkDir"] == str(slurm.workdir)
    assert shown["StdOut"] == f"{slurm.workdir}/slurm-{job}.out"
    assert shown["TRES"].startswith("cpu=1,")


def test_export_list_keeps_sbatch_environment_out_of_the_job(slurm: SlurmSession) -> None:
    env = {**os.environ, "EESSI_BOT_TEST_SECRET": "hunter2"}
    limited = slurm.submit("--export=PATH,HOME", "--wrap", "env -0 > env-limited", env=env)
    default = slurm.submit("--wrap", "env -0 > env-default", env=env)
    wait_state(limited, "COMPLETED")
    wait_state(default, "COMPLETED")

    seen = read_env0(slurm.workdir / "env-limited")
    assert "EESSI_BOT_TEST_SECRET" not in seen
    assert seen["PATH"] == env["PATH"] and seen["SLURM_JOB_ID"] == limited
    assert read_env0(slurm.workdir / "env-default")["EESSI_BOT_TEST_SECRET"] == "hunter2", \
        "without --export, sbatch hands its whole environment to the job"


def test_scancel_ends_cancelled(slurm: SlurmSession) -> None:
    job = slurm.submit("--wrap", WAIT_FOR_GO)
    wait_state(job, "RUNNING")
    run(["scancel", job])
    wait_state(job, "CANCELLED")
    row = sacct_job(job)
    assert row["State"] == "CANCELLED" and row["StateFull"].startswith("CANCELLED by ")


def test_nonzero_exit_ends_failed(slurm: SlurmSession) -> None:
    job = slurm.submit("--wrap", "exit 3")
    wait_state(job, "FAILED")
    row = sacct_job(job)
    assert (row["State"], row["ExitCode"]) == ("FAILED", "3:0")


def test_time_limit_ends_timeout(slurm: SlurmSession) -> None:
    """A real `--time=1` job ends TIMEOUT 60-90 s after it starts (slurmctld checks limits every 30 s);
    lowering the limit of the running job to 0 gets the same end state within about 31 s."""
    job = slurm.submit("--time=1", "--wrap", "sleep 300")
    wait_state(job, "RUNNING")
    force_timeout(job)
    wait_state(job, "TIMEOUT", timeout=45)
    row = sacct_job(job)
    assert row["State"] == "TIMEOUT"


def test_parse_scontrol_keeps_free_text_values() -> None:
    line = ("JobId=5 JobName=my job UserId=root(0) JobState=PENDING Reason=JobHeldUser Dependency=(null) "
            "TRES=cpu=1,mem=2G,node=1 Features=zen2|zen3 Command=(null) WorkDir=/tmp/a b "
            "Comment=k=v x JobId=7 y  StdErr=/tmp/a b/o StdIn=/dev/null StdOut=/tmp/a b/o Power=")
    fields = parse_scontrol(line)
    assert fields["JobId"] == "5" and fields["JobName"] == "my job" and fields["UserId"] == "root(0)"
    assert fields["TRES"] == "cpu=1,mem=2G,node=1" and fields["Features"] == "zen2|zen3"
    assert fields["WorkDir"] == "/tmp/a b" and fields["Comment"] == "k=v x JobId=7 y"
    assert fields["StdOut"] == "/tmp/a b/o" and fields["Power"] == ""
