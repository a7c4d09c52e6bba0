"""The shipped job script and local-backend wrapper, run for real with bash in temporary job dirs."""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import eessi_bot
from eessi_bot.core.jobfiles import render_sandbox_cfg
from tests.waiting import wait_for

DATA = Path(eessi_bot.__file__).parent / "data"
BUILD_SCRIPT = DATA / "bot-build.slurm"
LOCAL_JOB = DATA / "local-job.sh"
JOB_ID = "4242"
USER = "tester"

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("setsid") is None or not Path("/proc/self/stat").exists(),
    reason="needs bash, setsid and /proc",
)


def base_env(path: Optional[str] = None) -> Dict[str, str]:
    """The minimal environment the bot gives a job (nothing of the test runner's)."""
    return {"PATH": path or "/usr/local/bin:/usr/bin:/bin", "USER": USER, "LANG": "C"}


# Fake target-repo scripts: each appends its name to steps.log; the check scripts write result files.
FAKE_BODIES = {
    "build": 'echo "building for job $SLURM_JOB_ID"\n'
    'printf "TMPDIR=%s\\nSITE_VAR=%s\\n" "$TMPDIR" "${SITE_VAR:-}" > env.log\n',
    "check-build": 'printf "[RESULT]\\ncomment_description = built\\nstatus = SUCCESS\\nartefacts =\\n    a.tar.gz\\n"'
    ' > "_bot_job${SLURM_JOB_ID}.result"\n',
    "test": "",
    "check-test": 'printf "[TEST]\\ncomment_description = tested\\nstatus = SUCCESS\\n"'
    ' > "_bot_job${SLURM_JOB_ID}.test"\n',
}
ALL_STEPS = ("build", "check-build", "test", "check-test")


def write_fake_script(job_dir: Path, name: str, exit_code: int = 0, executable: bool = True) -> None:
    script = job_dir / "bot" / f"{name}.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/bash\necho {name} >> steps.log\n{FAKE_BODIES[name]}exit {exit_code}\n")
    if executable:
        script.chmod(0o755)


def write_job_cfg(job_dir: Path, local_tmp: str, site_config_script: str = "", shared_fs_path: str = "") -> None:
    lines = ["[site_config]", f"local_tmp = {local_tmp}"]
    if site_config_script:
        lines.append(f"site_config_script = {site_config_script}")
    if shared_fs_path:
        lines.append(f"shared_fs_path = {shared_fs_path}")
    # Same keys in another section must not be picked up.
    lines += ["", "[architecture]", "local_tmp = /must/not/be/used", "software_subdir = x86_64/amd/zen2", ""]
    (job_dir / "cfg").mkdir(parents=True, exist_ok=True)
    (job_dir / "cfg" / "job.cfg").write_text("\n".join(lines))


def run_job(job_dir: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        cwd=job_dir,
        env={**env, "SLURM_JOB_ID": JOB_ID},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def steps_run(job_dir: Path) -> List[str]:
    log = job_dir / "steps.log"
    return log.read_text().split() if log.exists() else []


def read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()  # the bot's reader; interpolation on, so '%' would break it
    parser.read_string(path.read_text())
    return parser


def recorded_env(job_dir: Path) -> Dict[str, str]:
    return dict(line.split("=", 1) for line in (job_dir / "env.log").read_text().splitlines())


@dataclass
class JobCase:
    id: str
    present: Tuple[str, ...] = ALL_STEPS
    exit_codes: Dict[str, int] = field(default_factory=dict)
    executable: bool = True
    export_vars: str = ""
    steps: Tuple[str, ...] = ALL_STEPS
    exit_code: int = 0
    # (section, status, comment_description or None for "any")
    result: Optional[Tuple[str, str, Optional[str]]] = ("RESULT", "SUCCESS", "built")
    test: Optional[Tuple[str, str, Optional[str]]] = ("TEST", "SUCCESS", "tested")


JOB_CASES = [
    JobCase("all-four-in-order"),
    JobCase("skip-tests-keeps-check-test", export_vars="export SKIP_TESTS=yes",
            steps=("build", "check-build", "check-test")),
    JobCase("skip-tests-other-value-runs-tests", export_vars="export SKIP_TESTS=no"),
    JobCase("no-check-scripts-default-files", present=("build", "test"), steps=("build", "test"),
            result=("RESULT", "UNKNOWN", None), test=("TEST", "UNKNOWN", None)),
    # EESSI's script has no `set -e`: check-build.sh runs after a failed build and reports it.
    JobCase("build-fails-check-build-still-runs", exit_codes={"build": 2}, exit_code=2),
    JobCase("check-build-exit-code-when-build-ok", exit_codes={"check-build": 4}, exit_code=4),
    JobCase("build-code-wins-over-check-build", exit_codes={"build": 2, "check-build": 4}, exit_code=2),
    JobCase("failing-tests-do-not-fail-job", exit_codes={"test": 5, "check-test": 6}),
    JobCase("no-build-script", present=("check-build", "test", "check-test"), steps=(), exit_code=1,
            result=("RESULT", "FAILURE", None), test=None),
    JobCase("not-executable-run-with-bash", executable=False),
]


@pytest.mark.parametrize("case", JOB_CASES, ids=lambda c: c.id)
def test_job_script(tmp_path: Path, case: JobCase) -> None:
    job_dir = tmp_path / "job"
    for name in case.present:
        write_fake_script(job_dir, name, case.exit_codes.get(name, 0), case.executable)
    write_job_cfg(job_dir, f"{tmp_path}/$USER/x")
    if case.export_vars:
        (job_dir / "cfg" / "export_vars.sh").write_text(case.export_vars)

    proc = run_job(job_dir, base_env())

    assert proc.returncode == case.exit_code, proc.stdout + proc.stderr
    assert steps_run(job_dir) == list(case.steps)
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == f"{case.exit_code}\n"
    for suffix, expected in (("result", case.result), ("test", case.test)):
        path = job_dir / f"_bot_job{JOB_ID}.{suffix}"
        if expected is None:
            assert not path.exists()
            continue
        section, status, description = expected
        parsed = read_ini(path)
        assert parsed.sections() == [section]
        assert parsed[section]["status"] == status
        if description is not None:
            assert parsed[section]["comment_description"] == description
        else:
            assert "\n" not in parsed[section]["comment_description"].strip()
        if section == "RESULT" and status != "SUCCESS":
            assert parsed[section]["artefacts"] == ""
    if "build" in case.steps:
        assert "== bot/build.sh ==" in proc.stdout
        tmpdir = Path(recorded_env(job_dir)["TMPDIR"])
        assert tmpdir.parent == tmp_path / USER / "x" and tmpdir.name.startswith("eessi_job.")
        # The job's temporary directory goes with the job: local_tmp holds nothing of it afterwards.
        assert not tmpdir.exists() and list(tmpdir.parent.iterdir()) == []
    # Nothing is left behind under temporary names.
    assert not list(job_dir.glob("*.tmp.*"))


def test_default_descriptions_name_the_missing_script(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build")
    write_job_cfg(job_dir, f"{tmp_path}/t")
    assert run_job(job_dir, base_env()).returncode == 0
    result = read_ini(job_dir / f"_bot_job{JOB_ID}.result")["RESULT"]["comment_description"]
    test = read_ini(job_dir / f"_bot_job{JOB_ID}.test")["TEST"]["comment_description"]
    assert "bot/check-build.sh" in result and "check-result" not in result and "<summary/>" not in result
    assert "bot/check-test.sh" in test


JOB_SCRIPT_TOOLS = ("bash", "date", "mkdir", "mktemp", "mv", "id", "chmod")
"""What the job script runs, besides envsubst (optional) and, with a sandbox, realpath, sort and bwrap."""


def tool_dir(tmp_path: Path, tools: Tuple[str, ...]) -> str:
    """A PATH holding only `tools`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def tool_dir_without_envsubst(tmp_path: Path) -> str:
    """A PATH holding only what the job script uses, so its bash fallback for envsubst runs."""
    return tool_dir(tmp_path, JOB_SCRIPT_TOOLS)


@pytest.mark.parametrize("with_envsubst", [True, False], ids=["envsubst", "bash-fallback"])
def test_job_cfg_values_expand_variables_but_never_run_code(tmp_path: Path, with_envsubst: bool) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build")
    site_script = tmp_path / "site config.sh"
    site_script.write_text("export SITE_VAR=from-site\nfalse\n")  # a non-zero status only warns
    hostile = "$(touch pwned)`touch pwned2`"
    write_job_cfg(job_dir, f"  {tmp_path}/{hostile}/${{USER}}/$NOT_SET$JOB_ID/$USER  ", str(site_script))
    env = base_env(None if with_envsubst else tool_dir_without_envsubst(tmp_path))

    proc = run_job(job_dir, env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = recorded_env(job_dir)
    assert seen["SITE_VAR"] == "from-site"
    # Only exported variables expand (as with envsubst); `$(...)` and backticks stay literal text.
    assert Path(seen["TMPDIR"]).parent == tmp_path / hostile / USER / USER
    assert not list(tmp_path.rglob("pwned*"))


def test_user_defaults_to_id_when_unset(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build")
    write_job_cfg(job_dir, f"{tmp_path}/$USER")
    env = base_env()
    del env["USER"]
    assert run_job(job_dir, env).returncode == 0
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    assert Path(recorded_env(job_dir)["TMPDIR"]).parent == tmp_path / user


def test_job_tmp_with_read_only_tree_and_link_out_is_removed_alone(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    script = job_dir / "bot" / "build.sh"
    script.parent.mkdir(parents=True)
    script.write_text('#!/bin/bash\nmkdir -p "$TMPDIR/ro/deep" && touch "$TMPDIR/ro/deep/f"\n'
                      f'ln -s {outside} "$TMPDIR/ro/out"\nchmod -R a-w "$TMPDIR/ro"\n')
    script.chmod(0o755)
    write_job_cfg(job_dir, f"{tmp_path}/tmp")
    assert run_job(job_dir, base_env()).returncode == 0
    assert list((tmp_path / "tmp").iterdir()) == []
    assert (outside / "keep").read_text() == "mine"


def test_unusable_local_tmp_fails_with_a_result(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build")
    (tmp_path / "afile").write_text("")
    write_job_cfg(job_dir, f"{tmp_path}/afile/sub")
    proc = run_job(job_dir, base_env())
    assert proc.returncode == 1 and steps_run(job_dir) == []
    assert read_ini(job_dir / f"_bot_job{JOB_ID}.result")["RESULT"]["status"] == "FAILURE"
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "1\n"


def test_job_id_is_required(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build")
    env = base_env()
    env.pop("SLURM_JOB_ID", None)
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=job_dir, env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 1 and "SLURM_JOB_ID" in proc.stderr
    assert steps_run(job_dir) == [] and not list(job_dir.glob("_bot_job*"))


@pytest.mark.parametrize("sandbox", [False, True], ids=["plain", "sandboxed"])
def test_killed_job_still_writes_the_end_marker(tmp_path: Path, sandbox: bool) -> None:
    job_dir = tmp_path / "job"
    (job_dir / "bot").mkdir(parents=True)
    build = job_dir / "bot" / "build.sh"
    build.write_text("#!/bin/bash\ntouch started\nsleep 30\n")
    build.chmod(0o755)
    if sandbox:
        require_bwrap()
        write_sandbox_cfg(job_dir, [])
    proc = subprocess.Popen(["bash", str(BUILD_SCRIPT)], cwd=job_dir, env={**base_env(), "SLURM_JOB_ID": JOB_ID},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for((job_dir / "started").exists, timeout=5)
        os.killpg(proc.pid, 15)  # what scancel and the local wrapper do
        assert proc.wait(timeout=5) == 143
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "143\n"
    assert wait_for(lambda: live_members(proc.pid) == [], timeout=5)  # the step's sleep went too


# ---------------------------------------------------------------- local backend wrapper


def proc_stat_fields(pid: int) -> List[str]:
    """Fields 3.. of /proc/PID/stat (field 2, the command name, may contain spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def live_members(pgid: int) -> List[int]:
    """Pids of non-zombie processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = proc_stat_fields(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def exit_record(job_dir: Path) -> str:
    return (job_dir / "_bot_local.exit").read_text().strip()


StartLocal = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def start_local() -> Iterator[StartLocal]:
    """Start local-job.sh as the bot does: setsid, minimal env, not waited for by anyone else."""
    started: List[Tuple[Path, subprocess.Popen[bytes]]] = []

    def start(job_dir: Path, script: Path, time_limit: Optional[int] = None,
              fork: bool = False) -> subprocess.Popen[bytes]:
        # Without --fork, setsid (not a group leader here) execs in place: the Popen pid is the wrapper.
        argv = ["setsid", *(["--fork"] if fork else []), "bash", str(LOCAL_JOB), str(job_dir), JOB_ID, str(script)]
        if time_limit is not None:
            argv.append(str(time_limit))
        proc = subprocess.Popen(argv, env=base_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append((job_dir, proc))
        return proc

    yield start
    for job_dir, proc in started:  # never leave a job behind, even when a test failed
        if not (job_dir / "_bot_local.exit").exists():
            (job_dir / "_bot_local.cancel").touch()
            with contextlib.suppress(AssertionError):  # killed below if it does not end in time
                wait_for((job_dir / "_bot_local.exit").exists, timeout=8)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def write_script(path: Path, body: str, executable: bool = True) -> Path:
    path.write_text("#!/bin/bash\n" + body)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("fork", [False, True], ids=["setsid", "setsid-fork"])
def test_local_hold_release_and_full_job(tmp_path: Path, start_local: StartLocal, fork: bool) -> None:
    job_dir = tmp_path / "job"
    for name in ALL_STEPS:
        write_fake_script(job_dir, name)
    write_job_cfg(job_dir, f"{tmp_path}/$USER/x")

    proc = start_local(job_dir, BUILD_SCRIPT, fork=fork)

    pid_file = job_dir / "_bot_local.pid"
    assert wait_for(pid_file.exists, timeout=5)
    pid_text, start_time = pid_file.read_text().split()
    pid = int(pid_text)
    if fork:
        assert proc.wait(timeout=5) == 0 and pid != proc.pid  # the bot is not the wrapper's parent
    else:
        assert pid == proc.pid
    assert start_time == proc_stat_fields(pid)[19]  # field 22: tells this process from a reused pid
    assert os.getsid(pid) == pid
    time.sleep(0.5)  # held: nothing runs before the release file exists
    assert Path(f"/proc/{pid}").exists() and steps_run(job_dir) == []
    assert not (job_dir / f"slurm-{JOB_ID}.out").exists()

    (job_dir / "_bot_local.release").touch()
    assert wait_for((job_dir / "_bot_local.exit").exists, timeout=15)
    if not fork:
        assert proc.wait(timeout=5) == 0

    assert exit_record(job_dir) == "0 COMPLETED"
    assert steps_run(job_dir) == list(ALL_STEPS)
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "0\n"
    assert read_ini(job_dir / f"_bot_job{JOB_ID}.result")["RESULT"]["status"] == "SUCCESS"
    output = (job_dir / f"slurm-{JOB_ID}.out").read_text()
    assert "== bot/build.sh ==" in output and f"building for job {JOB_ID}" in output
    assert not list(job_dir.glob("*.tmp.*"))


def test_local_failing_script_output_and_environment(tmp_path: Path, start_local: StartLocal) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "_bot_local.release").touch()  # released before it even starts
    script = write_script(
        tmp_path / "job-script.sh",
        'echo "id=$SLURM_JOB_ID dir=$SLURM_SUBMIT_DIR name=$SLURM_JOB_NAME cwd=$PWD"\necho oops >&2\nexit 3\n',
        executable=False,  # run with bash, as sbatch would run it regardless of its mode
    )
    proc = start_local(job_dir, script)
    assert proc.wait(timeout=10) == 3
    assert exit_record(job_dir) == "3 FAILED"
    output = (job_dir / f"slurm-{JOB_ID}.out").read_text()
    assert f"id={JOB_ID} dir={job_dir} name=job-script.sh cwd={job_dir}" in output
    assert "oops" in output


def test_local_cancel_before_release(tmp_path: Path, start_local: StartLocal) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    script = write_script(tmp_path / "s.sh", "touch ran\n")
    proc = start_local(job_dir, script)
    assert wait_for((job_dir / "_bot_local.pid").exists, timeout=5)
    (job_dir / "_bot_local.cancel").touch()
    assert proc.wait(timeout=5) == 130
    assert exit_record(job_dir) == "130 CANCELLED"
    assert not (job_dir / "ran").exists()
    assert not (job_dir / f"slurm-{JOB_ID}.out").exists()


@pytest.mark.parametrize("how", ["cancel-file", "sigterm-to-wrapper"])
def test_local_cancel_while_running_kills_the_tree(tmp_path: Path, start_local: StartLocal, how: str) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "_bot_local.release").touch()
    # A child in the background and one in the foreground: the whole group must go.
    script = write_script(tmp_path / "s.sh", "sleep 60 &\necho $$ > job.pid\nsleep 60\n")
    proc = start_local(job_dir, script)
    job_pid_file = job_dir / "job.pid"
    assert wait_for(lambda: job_pid_file.exists() and job_pid_file.read_text().strip() != "", timeout=5)
    pgid = int(job_pid_file.read_text())
    assert wait_for(lambda: len(live_members(pgid)) == 3, timeout=5)  # bash + two sleeps

    began = time.monotonic()
    if how == "cancel-file":
        (job_dir / "_bot_local.cancel").touch()
    else:
        proc.terminate()
    code = proc.wait(timeout=10)
    assert time.monotonic() - began < 5
    assert exit_record(job_dir) == f"{code} CANCELLED"
    assert code == 143  # SIGTERM was enough
    assert live_members(pgid) == []
    assert "CANCELLED" in (job_dir / f"slurm-{JOB_ID}.out").read_text()


def test_local_time_limit(tmp_path: Path, start_local: StartLocal) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "_bot_local.release").touch()
    script = write_script(tmp_path / "s.sh", "echo $$ > job.pid\nsleep 60\n")
    began = time.monotonic()
    proc = start_local(job_dir, script, time_limit=1)
    code = proc.wait(timeout=10)
    assert 1 <= time.monotonic() - began < 4
    assert code != 0 and exit_record(job_dir) == f"{code} TIMEOUT"
    assert live_members(int((job_dir / "job.pid").read_text())) == []
    assert "DUE TO TIME LIMIT" in (job_dir / f"slurm-{JOB_ID}.out").read_text()


def test_local_leftover_processes_end_with_the_job(tmp_path: Path, start_local: StartLocal) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "_bot_local.release").touch()
    script = write_script(tmp_path / "s.sh", "sleep 60 &\necho $$ > job.pid\n")
    proc = start_local(job_dir, script)
    assert proc.wait(timeout=10) == 0
    assert exit_record(job_dir) == "0 COMPLETED"
    assert live_members(int((job_dir / "job.pid").read_text())) == []


@pytest.mark.parametrize("args", [
    pytest.param(["../x", "/bin/true"], id="job-id-with-slash"),
    pytest.param([JOB_ID, "/bin/true", "soon"], id="time-limit-not-a-number"),
    pytest.param([JOB_ID], id="too-few-arguments"),
])
def test_local_usage_errors_write_nothing(tmp_path: Path, args: List[str]) -> None:
    proc = subprocess.run(["bash", str(LOCAL_JOB), str(tmp_path), *args], env=base_env(),
                          capture_output=True, text=True, timeout=10, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr
    assert list(tmp_path.iterdir()) == []



# ---------------------------------------------------------------- the sandbox (job_sandbox = bwrap)


def require_bwrap() -> None:
    """The sandbox tests run for real: scripts/test.sh installs bubblewrap, so its absence is a failure."""
    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed (scripts/test.sh installs the Debian package bubblewrap)")


def write_sandbox_cfg(job_dir: Path, hidden: List[Path]) -> None:
    """cfg/sandbox.cfg as the bot writes it for `job_sandbox = bwrap`."""
    (job_dir / "cfg").mkdir(parents=True, exist_ok=True)
    (job_dir / "cfg" / "sandbox.cfg").write_text(render_sandbox_cfg([str(p) for p in hidden]))


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside /tmp and the test runner's home: a sandboxed job gets an empty /tmp and home of
    its own, so only paths elsewhere show that the bot's files are hidden by name."""
    path = Path(tempfile.mkdtemp(prefix="eessi-bot-sandbox-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Probe:
    id: str
    command: str
    """Run by the PR's bot/build.sh; the probe says "yes" when it succeeds."""
    sandboxed: bool
    plain: Optional[bool]
    """None: not tried without the sandbox (it would change the machine)."""


PROBES = [
    Probe("read-app-key", "grep -q 'PRIVATE KEY' {site}/app.pem", False, True),
    Probe("read-app-cfg", "grep -q webhook_secret {site}/app.cfg", False, True),
    Probe("read-database", "grep -q 'SQLite format 3' {site}/state/eessi-bot.sqlite3", False, True),
    Probe("list-data-dir", "ls {site}/state | grep -q sqlite3", False, True),
    Probe("read-signing-key", "grep -q 'OPENSSH PRIVATE KEY' {site}/signing/key", False, True),
    Probe("read-bot-home", 'test -e "$HOME/.aws/credentials"', False, True),
    Probe("see-bot-process", "grep -q pytest /proc/{pid}/cmdline", False, True),
    Probe("write-outside-job-dir", "touch {site}/escaped", False, True),
    Probe("write-system", "touch /usr/eessi-bot-sandbox-probe", False, None),
    Probe("write-job-dir", "touch written", True, True),
    Probe("write-tmpdir", 'touch "$TMPDIR/written"', True, True),
    Probe("write-shared-fs-path", "touch {site}/shared/written", True, True),
    Probe("network", "exec 3<>/dev/tcp/127.0.0.1/{port}", True, True),
]


def make_site_files(site: Path, home: Path) -> None:
    """What a bot has: App key, app.cfg, database, a signing key, credentials in its home; a shared dir."""
    for path, content in ((site / "app.pem", "-----BEGIN PRIVATE KEY-----\n"),
                          (site / "app.cfg", "webhook_secret = x\n"),
                          (site / "state" / "eessi-bot.sqlite3", "SQLite format 3\0"),
                          (site / "signing" / "key", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                          (home / ".aws" / "credentials", "[default]\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (site / "shared").mkdir()


def write_probing_build(job_dir: Path, probes: List[Probe], **values: object) -> None:
    lines = ["#!/bin/bash",
             'probe() { if eval "$2" >/dev/null 2>&1; then echo yes; else echo no; fi >"probe-$1"; }']
    lines += [f"probe {p.id} {shlex.quote(p.command.format(**values))}" for p in probes]
    (job_dir / "bot").mkdir(parents=True)
    write_script(job_dir / "bot" / "build.sh", "\n".join(lines[1:]) + "\n")


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "plain"])
def test_sandbox_hides_the_bots_files_and_keeps_the_job_working(outside_tmp: Path, sandbox: bool) -> None:
    require_bwrap()
    site, home = outside_tmp / "site", outside_tmp / "home"
    make_site_files(site, home)
    job_dir = home / "jobs" / "pr_1" / "job"  # under the bot's home, as jobs_base_dir = $HOME/jobs makes it
    probes = [p for p in PROBES if sandbox or p.plain is not None]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        write_probing_build(job_dir, probes, site=site, pid=os.getpid(), port=listener.getsockname()[1])
        write_fake_script(job_dir, "check-build")
        write_job_cfg(job_dir, f"{outside_tmp}/local_tmp/$USER", shared_fs_path=f"{site}/shared")
        if sandbox:
            write_sandbox_cfg(job_dir, [site / "state", site / "app.pem", site / "app.cfg", site / "signing" / "key",
                                        home, outside_tmp / "not-there"])
        proc = run_job(job_dir, {**base_env(), "HOME": str(home)})

    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = {p.id: (job_dir / f"probe-{p.id}").read_text().strip() == "yes" for p in probes}
    assert seen == {p.id: p.sandboxed if sandbox else p.plain for p in probes}
    assert read_ini(job_dir / f"_bot_job{JOB_ID}.result")["RESULT"]["status"] == "SUCCESS"
    assert ("== sandbox ==" in proc.stdout) is sandbox
    assert (site / "app.pem").read_text().startswith("-----BEGIN")  # hidden from the job, not harmed


FAILING_BWRAP = """#!/bin/sh
echo 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow' \\
  'non-privileged user namespaces.' >&2
exit 1
"""


@pytest.mark.parametrize(("bwrap", "expected"), [
    (None, "bwrap (bubblewrap) was not found in PATH="),
    (FAILING_BWRAP, "bwrap could not start a sandbox: bwrap: No permissions to creating new namespace"),
], ids=["bwrap-missing", "no-user-namespaces"])
def test_sandbox_that_cannot_start_fails_the_job_clearly(tmp_path: Path, bwrap: Optional[str], expected: str) -> None:
    job_dir = tmp_path / "job"
    for name in ALL_STEPS:
        write_fake_script(job_dir, name)
    write_job_cfg(job_dir, f"{tmp_path}/t")
    write_sandbox_cfg(job_dir, [tmp_path / "app.pem"])
    path = tool_dir(tmp_path, (*JOB_SCRIPT_TOOLS, "realpath", "sort"))
    if bwrap is not None:
        write_script(Path(path) / "bwrap", bwrap.split("\n", 1)[1])

    proc = run_job(job_dir, base_env(path))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert steps_run(job_dir) == []  # no PR code ran outside the sandbox
    result = read_ini(job_dir / f"_bot_job{JOB_ID}.result")["RESULT"]
    assert result["status"] == "FAILURE"
    assert "job sandbox (<code>job_sandbox = bwrap</code>) could not start" in result["comment_description"]
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "1\n"


def test_links_a_sandboxed_step_leaves_are_not_written_through(outside_tmp: Path) -> None:
    """The job script writes its files after PR code ran: never through a link that code left."""
    require_bwrap()
    victim = outside_tmp / "victim"
    victim.write_text("untouched\n")
    job_dir = outside_tmp / "job"
    (job_dir / "bot").mkdir(parents=True)
    names = [f"_bot_job{JOB_ID}.done", f"_bot_job{JOB_ID}.result", f"_bot_job{JOB_ID}.test"]
    write_script(job_dir / "bot" / "build.sh", "".join(f"ln -s {victim} {name}\n" for name in names))
    write_job_cfg(job_dir, f"{outside_tmp}/t")
    write_sandbox_cfg(job_dir, [])

    assert run_job(job_dir, base_env()).returncode == 0

    assert victim.read_text() == "untouched\n"
    for name in names:
        assert not (job_dir / name).is_symlink() and (job_dir / name).is_file(), name
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "0\n"


def test_local_wrapper_never_writes_through_links_the_job_left(tmp_path: Path, start_local: StartLocal) -> None:
    """local-job.sh writes its exit file and the time-limit line after the job ran: never through a link."""
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "_bot_local.release").touch()
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    script = write_script(tmp_path / "s.sh", f"ln -s {victim} _bot_local.exit\nrm slurm-{JOB_ID}.out\n"
                          f"ln -s {victim} slurm-{JOB_ID}.out\nsleep 60\n")
    proc = start_local(job_dir, script, time_limit=1)
    code = proc.wait(timeout=10)
    assert victim.read_text() == "untouched\n"
    assert not (job_dir / "_bot_local.exit").is_symlink() and exit_record(job_dir) == f"{code} TIMEOUT"


def processes_running(argv: List[str]) -> List[int]:
    """Pids of live processes whose command line is exactly `argv`."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == wanted and proc_stat_fields(int(entry.name))[0] != "Z":
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def test_nothing_a_sandboxed_step_leaves_running_outlives_it(outside_tmp: Path) -> None:
    """The job script writes its result and end marker after the steps: no PR process may be left to
    race it (the step's pid namespace ends with the step), even one that left the process group."""
    require_bwrap()
    leftover = ["sleep", f"61.{os.getpid()}"]
    job_dir = outside_tmp / "job"
    (job_dir / "bot").mkdir(parents=True)
    write_script(job_dir / "bot" / "build.sh", f"setsid {' '.join(leftover)} &\nnohup {' '.join(leftover)} &\n")
    write_job_cfg(job_dir, f"{outside_tmp}/t")
    write_sandbox_cfg(job_dir, [])
    try:
        assert run_job(job_dir, base_env()).returncode == 0
        assert processes_running(leftover) == []
    finally:
        for pid in processes_running(leftover):
            os.kill(pid, 9)


# ---------------------------------------------------------------- the end marker in the bot's directory of ended jobs


@dataclass(frozen=True)
class EndDirCase:
    id: str
    end_dir: Optional[str]
    """What cfg/end_dir says ("{ended}" is the directory the bot made); None: no such file."""
    build: str = ""
    """The body of the PR's bot/build.sh."""
    exit_code: int = 0
    marker: Optional[str] = "0\n"
    """What the file JOB_ID in the bot's directory holds afterwards; None: nothing was written there."""
    export_vars: str = ""


END_DIR_CASES = [
    EndDirCase("success", "{ended}"),
    EndDirCase("failed-build", "{ended}", build="exit 3\n", exit_code=3, marker="3\n"),
    EndDirCase("no-end-dir-file", None, marker=None),
    EndDirCase("relative-path-ignored", "ended", marker=None),
    # Read before PR code runs: a build that points cfg/end_dir elsewhere changes nothing.
    EndDirCase("pr-code-rewrites-end-dir", "{ended}", build="echo {elsewhere} > cfg/end_dir\n"),
    # PR code (without a sandbox) puts a link at its marker's name: replaced, never written through.
    EndDirCase("link-at-the-marker-name", "{ended}", build=f"ln -s {{victim}} {{ended}}/{JOB_ID}\n"),
    # `exportvariable:` values (cfg/export_vars.sh, sourced later) cannot move it either.
    EndDirCase("export-vars-cannot-move-it", "{ended}", export_vars="export END_DIR={elsewhere}\n"),
]


@pytest.mark.parametrize("case", END_DIR_CASES, ids=lambda c: c.id)
def test_job_script_drops_its_end_marker_in_the_bots_directory(tmp_path: Path, case: EndDirCase) -> None:
    ended, elsewhere, victim = tmp_path / "ended", tmp_path / "elsewhere", tmp_path / "victim"
    for directory in (ended, elsewhere):
        directory.mkdir()
    victim.write_text("untouched\n")
    values = {"ended": ended, "elsewhere": elsewhere, "victim": victim}
    job_dir = tmp_path / "job"
    (job_dir / "bot").mkdir(parents=True)
    write_script(job_dir / "bot" / "build.sh", case.build.format(**values))
    write_job_cfg(job_dir, f"{tmp_path}/t")
    if case.end_dir is not None:
        (job_dir / "cfg" / "end_dir").write_text(case.end_dir.format(**values) + "\n")
    if case.export_vars:
        (job_dir / "cfg" / "export_vars.sh").write_text(case.export_vars.format(**values))

    proc = run_job(job_dir, base_env())

    assert proc.returncode == case.exit_code, proc.stdout + proc.stderr
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == f"{case.exit_code}\n"
    marker = ended / JOB_ID
    if case.marker is None:
        assert list(ended.iterdir()) == []
    else:
        assert not marker.is_symlink() and marker.read_text() == case.marker
        assert [p.name for p in ended.iterdir()] == [JOB_ID], "no temp file is left"
    assert list(elsewhere.iterdir()) == [] and victim.read_text() == "untouched\n"


def test_job_script_without_the_bots_directory_still_ends_with_its_code(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    write_fake_script(job_dir, "build", exit_code=4)
    write_job_cfg(job_dir, f"{tmp_path}/t")
    (job_dir / "cfg" / "end_dir").write_text(f"{tmp_path / 'gone'}\n")

    proc = run_job(job_dir, base_env())

    assert proc.returncode == 4
    assert f"bot-build.slurm: could not write the end marker into {tmp_path / 'gone'}" in proc.stderr
    assert (job_dir / f"_bot_job{JOB_ID}.done").read_text() == "4\n"


@pytest.mark.parametrize(("release", "script_body", "record", "marker"), [
    (True, "exit 0\n", "0 COMPLETED", "0\n"),
    (True, "exit 5\n", "5 FAILED", "5\n"),
    (False, "exit 0\n", "130 CANCELLED", "130\n"),
], ids=["completed", "failed", "cancelled-while-held"])
def test_local_wrapper_drops_its_end_marker_after_the_exit_file(tmp_path: Path, start_local: StartLocal,
                                                                release: bool, script_body: str, record: str,
                                                                marker: str) -> None:
    """The wrapper's marker comes after `_bot_local.exit`, so the bot that it wakes finds the job ended."""
    ended = tmp_path / "ended"
    ended.mkdir()
    job_dir = tmp_path / "job"
    (job_dir / "cfg").mkdir(parents=True)
    (job_dir / "cfg" / "end_dir").write_text(f"{ended}\n")
    (job_dir / "_bot_local.release" if release else job_dir / "_bot_local.cancel").touch()
    proc = start_local(job_dir, write_script(tmp_path / "s.sh", script_body))
    proc.wait(timeout=15)
    assert exit_record(job_dir) == record
    assert (ended / JOB_ID).read_text() == marker and [p.name for p in ended.iterdir()] == [JOB_ID]
    assert (ended / JOB_ID).stat().st_mtime_ns >= (job_dir / "_bot_local.exit").stat().st_mtime_ns
