"""The git mirror on real git: one fetch per command, self-contained job trees, no token anywhere.

The upstream is a repository on disk shaped like GitHub serves it (`main`, `refs/pull/<N>/head`);
commits are made with an identity given here only, never to the code under test.
"""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from eessi_bot.adapters.git_mirror import GitMirrors, git_version, git_version_problem, mirror_relpath
from eessi_bot.ports.git import Checkout, Git, GitError

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
BINARY = bytes(range(256)) * 4
TOKEN = "ghs_secrettoken123"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True).stdout


def commit(repo: Path, files: Dict[str, bytes], message: str) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@dataclass
class Upstream:
    path: Path
    url: str
    base0: str  # main when PR 42 branched
    pr_head: str

    def open_pr(self, number: int, branch: str, files: Dict[str, bytes], start: str = "main") -> str:
        git(self.path, "checkout", "-q", "-b", branch, start)
        sha = commit(self.path, files, f"PR {number}")
        git(self.path, "update-ref", f"refs/pull/{number}/head", sha)
        git(self.path, "checkout", "-q", "main")
        return sha

    def push_main(self, files: Dict[str, bytes]) -> str:
        return commit(self.path, files, "on main")


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    path = tmp_path / "upstream" / "software-layer"
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    base0 = commit(path, {"README.md": b"readme\n", "easystack.yml": b"easyconfigs:\n  - zlib\n",
                          "bot/build.sh": b"#!/bin/bash\n"}, "base")
    up = Upstream(path, path.as_uri(), base0, "")
    up.pr_head = up.open_pr(42, "feature", {"easystack.yml": b"easyconfigs:\n  - zlib\n  - GCC\n",
                                           "new.txt": b"new\n", "blob.bin": BINARY})
    return up


@pytest.fixture
def mirrors(tmp_path: Path) -> GitMirrors:
    return GitMirrors(tmp_path / "data" / "git")


def status(dest: Path) -> List[str]:
    return sorted(git(dest, "status", "--porcelain", "--untracked-files=all").splitlines())


def test_job_tree_is_base_tip_plus_uncommitted_pr_changes(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path):
    checkout = mirrors.prepare(upstream.url, "main", 42, head_sha=upstream.pr_head)
    assert checkout == Checkout(upstream.url, "main", upstream.base0, upstream.pr_head, upstream.base0,
                                checkout.merged_tree)
    dest = tmp_path / "jobs" / "pr_42" / "run_000" / "x86_64"
    mirrors.make_tree(checkout, dest, 42)

    assert (dest / "easystack.yml").read_text() == "easyconfigs:\n  - zlib\n  - GCC\n"
    assert (dest / "new.txt").read_text() == "new\n"
    assert (dest / "blob.bin").read_bytes() == BINARY
    assert (dest / "README.md").read_text() == "readme\n"
    assert git(dest, "rev-parse", "HEAD").strip() == upstream.base0
    assert status(dest) == [" M easystack.yml", "?? 42.diff", "?? blob.bin", "?? new.txt"]
    pr_diff = (dest / "42.diff").read_text()
    assert pr_diff == git(upstream.path, "diff", "--binary", upstream.base0, upstream.pr_head)
    assert "+++ b/new.txt" in pr_diff and "+  - GCC" in pr_diff and "GIT binary patch" in pr_diff
    assert git(dest, "remote", "get-url", "origin").strip() == upstream.url

    assert not (dest / ".git" / "objects" / "info" / "alternates").exists()
    shutil.rmtree(mirrors.root)
    assert upstream.base0 in git(dest, "log", "-1", "--format=%H")
    git(dest, "fsck", "--no-dangling")
    assert status(dest) == [" M easystack.yml", "?? 42.diff", "?? blob.bin", "?? new.txt"]


def test_base_branch_moved_after_pr_branched(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path):
    tip = upstream.push_main({"README.md": b"readme, newer\n"})
    checkout = mirrors.prepare(upstream.url, "main", 42)
    assert (checkout.base_sha, checkout.head_sha, checkout.merge_base) == (tip, upstream.pr_head, upstream.base0)
    mirrors.make_tree(checkout, tmp_path / "job", 42)
    assert (tmp_path / "job" / "README.md").read_text() == "readme, newer\n"
    assert (tmp_path / "job" / "easystack.yml").read_text().endswith("  - GCC\n")
    assert git(tmp_path / "job", "rev-parse", "HEAD").strip() == tip
    assert "readme, newer" not in (tmp_path / "job" / "42.diff").read_text()  # the PR's own diff only


def test_deletes_renames_modes_symlinks_and_odd_names(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path):
    git(upstream.path, "checkout", "-q", "-b", "rich", "main")
    git(upstream.path, "rm", "-q", "README.md")
    (upstream.path / "easystacks").mkdir()
    git(upstream.path, "mv", "easystack.yml", "easystacks/es.yml")
    (upstream.path / "bot" / "build.sh").chmod(0o755)
    (upstream.path / "link").symlink_to("bot/build.sh")
    head = commit(upstream.path, {"caf\u00e9 \u00fc.txt": "caf\u00e9\n".encode("latin-1")}, "rich")
    git(upstream.path, "update-ref", "refs/pull/7/head", head)
    checkout = mirrors.prepare(upstream.url, "main", 7)
    dest = tmp_path / "job"
    mirrors.make_tree(checkout, dest, 7)
    expected = git(upstream.path, "ls-files", "-s").splitlines()
    assert git(dest, "add", "-A") == "" and git(dest, "rm", "-q", "--cached", "7.diff") == ""
    assert git(dest, "ls-files", "-s").splitlines() == expected  # the index now equals the PR's tree


@pytest.mark.parametrize("start", ["base0", "main"])
def test_pr_without_changes(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path, start: str):
    git(upstream.path, "update-ref", "refs/pull/5/head", upstream.base0 if start == "base0" else "main")
    upstream.push_main({"README.md": b"later\n"})
    checkout = mirrors.prepare(upstream.url, "main", 5)
    mirrors.make_tree(checkout, tmp_path / "job", 5)
    assert status(tmp_path / "job") == ["?? 5.diff"]
    assert (tmp_path / "job" / "5.diff").read_bytes() == b""


def test_conflict_names_the_file(upstream: Upstream, mirrors: GitMirrors):
    upstream.push_main({"easystack.yml": b"easyconfigs:\n  - zlib\n  - Python\n"})
    with pytest.raises(GitError) as caught:
        mirrors.prepare(upstream.url, "main", 42)
    assert caught.value.stage == "apply"
    assert "easystack.yml" in caught.value.message and "new.txt" not in caught.value.message


@pytest.mark.parametrize(
    ("case", "base_ref", "pr_number", "stage"),
    [
        ("unknown base branch", "nope", 42, "checkout"),
        ("no such repository", "main", 42, "clone"),
        ("no refs/pull/N/head", "main", 99, "pr_diff"),
        ("pinned head is gone", "main", 42, "pr_diff"),
    ],
)
def test_failures_map_to_stages(upstream: Upstream, mirrors: GitMirrors, case: str, base_ref: str, pr_number: int,
                                stage: str):
    url = upstream.url if case != "no such repository" else (upstream.path.parent / "missing.git").as_uri()
    head = "1234567890abcdef1234567890abcdef12345678" if case == "pinned head is gone" else None
    with pytest.raises(GitError) as caught:
        mirrors.prepare(url, base_ref, pr_number, head_sha=head)
    assert caught.value.stage == stage, caught.value
    assert mirrors.mirror_path(url).exists() == (case == "pinned head is gone")  # no empty mirror left behind


def test_pinned_head_still_in_mirror_is_built(upstream: Upstream, mirrors: GitMirrors):
    mirrors.prepare(upstream.url, "main", 42)
    upstream.open_pr(42, "feature2", {"new.txt": b"force-pushed\n"}, start=upstream.base0)
    checkout = mirrors.prepare(upstream.url, "main", 42, head_sha=upstream.pr_head)
    assert checkout.head_sha == upstream.pr_head


@pytest.mark.parametrize("base_ref", ["main;rm -rf /", "-x", "", "HEAD", "a..b", "@{-1}", "main\n", "x.lock"])
def test_bad_branch_names_are_refused_before_git_runs(upstream: Upstream, mirrors: GitMirrors, base_ref: str):
    with pytest.raises(GitError) as caught:
        mirrors.prepare(upstream.url, base_ref, 42)
    assert caught.value.stage == "checkout"
    assert not mirrors.root.exists()


@pytest.mark.parametrize(
    ("url", "pr_number", "head_sha"),
    [
        ("ext::sh -c touch% /tmp/pwned", 42, None),
        ("-uupload-pack=touch /tmp/pwned", 42, None),
        ("https://x-access-token:secret@github.com/o/r.git", 42, None),
        ("https://github.com/", 42, None),
        (None, 0, None),
        (None, -1, None),
        (None, True, None),
        (None, 42, "abc123"),
    ],
)
def test_bad_arguments_are_value_errors(upstream: Upstream, mirrors: GitMirrors, url: Optional[str], pr_number: int,
                                        head_sha: Optional[str]):
    with pytest.raises(ValueError):
        mirrors.prepare(url or upstream.url, "main", pr_number, head_sha=head_sha)
    assert not mirrors.root.exists()


@pytest.mark.parametrize(
    ("url", "relpath"),
    [
        ("https://github.com/EESSI/software-layer.git", "github.com/EESSI/software-layer.git"),
        ("https://GitHub.com/EESSI/software-layer", "github.com/EESSI/software-layer.git"),
        ("git@github.com:EESSI/software-layer.git", "ssh/github.com/EESSI/software-layer.git"),
        ("ssh://git@github.com:2222/EESSI/x.git", "ssh/github.com%3A2222/EESSI/x.git"),
        ("file:///srv/git/x.git", "file/srv/git/x.git"),
        ("/srv/git/x.git", "file/srv/git/x.git"),
        ("file:///srv/../../etc/.x", "file/srv/%2E./%2E./etc/%2Ex.git"),
        ("https://ghe.example.org:8443/a b/c", "ghe.example.org%3A8443/a%20b/c.git"),
    ],
)
def test_mirror_paths_stay_under_root(url: str, relpath: str, tmp_path: Path):
    assert mirror_relpath(url).as_posix() == relpath
    mirror = GitMirrors(tmp_path).mirror_path(url)
    assert mirror.resolve().is_relative_to(tmp_path.resolve())


def test_one_fetch_serves_eight_job_trees(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path):
    checkout = mirrors.prepare(upstream.url, "main", 42)
    upstream.path.rename(upstream.path.with_name("gone"))
    for target in range(8):
        dest = tmp_path / "jobs" / f"target_{target}"
        mirrors.make_tree(checkout, dest, 42)
        assert (dest / "new.txt").read_text() == "new\n"
    assert mirrors.upstream_fetches == 1


def test_half_made_dest_is_recreated(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path):
    checkout = mirrors.prepare(upstream.url, "main", 42)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    dest = tmp_path / "job"
    (dest / ".git" / "objects").mkdir(parents=True)
    (dest / ".git" / "HEAD").write_text("garbage")
    (dest / "junk.txt").write_text("junk")
    (dest / "link").symlink_to(outside)
    (dest / "readonly").mkdir()
    (dest / "readonly" / "f").write_text("x")
    (dest / "readonly").chmod(0o500)
    mirrors.make_tree(checkout, dest, 42)
    assert not (dest / "junk.txt").exists() and not (dest / "link").exists()
    assert (outside / "keep.txt").read_text() == "keep"
    assert status(dest) == [" M easystack.yml", "?? 42.diff", "?? blob.bin", "?? new.txt"]
    mirrors.make_tree(checkout, dest, 42)  # and again over a complete one
    assert status(dest) == [" M easystack.yml", "?? 42.diff", "?? blob.bin", "?? new.txt"]


def test_concurrent_prepares_of_one_mirror(upstream: Upstream, mirrors: GitMirrors):
    heads = {42: upstream.pr_head, 43: upstream.open_pr(43, "other", {"other.txt": b"43\n"})}
    barrier = threading.Barrier(4)

    def prepare(number: int) -> Checkout:
        barrier.wait()
        return mirrors.prepare(upstream.url, "main", number)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(prepare, [42, 43, 42, 43]))
    assert [r.head_sha for r in results] == [heads[42], heads[43], heads[42], heads[43]]
    assert mirrors.upstream_fetches == 4


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    seen: List[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    _RecordingHandler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/EESSI/private.git"
    server.shutdown()
    server.server_close()


def _spy_popen(monkeypatch: pytest.MonkeyPatch) -> List[List[str]]:
    """Observe (not fake) every argv and environment git gets."""
    seen: List[List[str]] = []
    real = subprocess.Popen

    def spy(argv: List[str], **kwargs: object) -> object:
        env = kwargs.get("env") or {}
        assert isinstance(env, dict)
        seen.append([*argv, *(f"{k}={v}" for k, v in env.items() if k.startswith("GIT_CONFIG_"))])
        return real(argv, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", spy)
    return seen


def _files_containing(root: Path, needle: bytes) -> List[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_token_goes_only_through_the_environment(http_server: str, upstream: Upstream, mirrors: GitMirrors,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    seen = _spy_popen(monkeypatch)
    with pytest.raises(GitError) as caught:
        mirrors.prepare(http_server, "main", 42, token=TOKEN)
    assert caught.value.stage == "clone"
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert f"Basic {basic}" in _RecordingHandler.seen  # it did reach the server, as a header
    assert TOKEN not in caught.value.stderr and basic not in caught.value.stderr and TOKEN not in str(caught.value)
    argvs = [[a for a in argv if not a.startswith("GIT_CONFIG_")] for argv in seen]
    assert argvs and not any(TOKEN in a or basic in a for argv in argvs for a in argv)
    assert any(f"GIT_CONFIG_VALUE_0=Authorization: Basic {basic}" in argv for argv in seen)

    seen.clear()  # file:// gets no header, and nothing on disk holds the token
    checkout = mirrors.prepare(upstream.url, "main", 42, token=TOKEN)
    mirrors.make_tree(checkout, tmp_path / "job", 42)
    assert seen and not any(basic in a for argv in seen for a in argv)
    assert _files_containing(mirrors.root, TOKEN.encode()) == []
    assert _files_containing(tmp_path / "job", TOKEN.encode()) == []


@pytest.mark.parametrize("home", ["empty", "unset"])
def test_no_home_and_no_identity_needed(upstream: Upstream, mirrors: GitMirrors, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, home: str):
    for name in [*IDENTITY, "EMAIL", "GIT_CONFIG_COUNT", "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name, raising=False)
    if home == "empty":
        (tmp_path / "home").mkdir()
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
    else:
        monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    # Any step that wanted an identity would now fail instead of guessing one from the host name.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.useConfigOnly")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")
    checkout = mirrors.prepare(upstream.url, "main", 42)
    mirrors.make_tree(checkout, tmp_path / "job", 42)
    assert status(tmp_path / "job") == [" M easystack.yml", "?? 42.diff", "?? blob.bin", "?? new.txt"]


def test_git_is_new_enough() -> None:
    assert git_version() >= (2, 38)
    assert git_version_problem() is None


def test_gitmirrors_is_a_git_port(mirrors: GitMirrors) -> None:
    port: Git = mirrors
    assert port is mirrors


def _processes_mentioning(text: str) -> List[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in argv:
            found.append(argv)
    return found


def test_fetch_timeout_stops_git_and_its_helpers(tmp_path: Path):
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/EESSI/slow.git"
        mirrors = GitMirrors(tmp_path / "git", fetch_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(GitError) as caught:
            mirrors.prepare(url, "main", 42, token=TOKEN)
        assert caught.value.stage == "clone" and "longer than 1 s" in caught.value.message
        assert time.monotonic() - started < 10
        time.sleep(0.2)
        assert _processes_mentioning(url) == []
