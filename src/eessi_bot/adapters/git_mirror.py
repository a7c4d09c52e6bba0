"""The git port on real git: one bare mirror per repository, one self-contained tree per job.

A command fetches the base branch and `refs/pull/<N>/head` once into the mirror and merges them
there (`git merge-tree`, git >= 2.38); each job tree then gets a depth-1 copy of the base tip plus
the merge result as uncommitted changes, like the EESSI bot's clone + `git apply`, but without a
network round trip per job. Job trees run on compute nodes that cannot see the mirror, so they
never borrow objects from it.

Tokens reach git only through its environment (`GIT_CONFIG_*`), never argv, config or URLs.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import re
import shutil
import stat
import threading
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from eessi_bot.adapters import process
from eessi_bot.jobs.files import write_new
from eessi_bot.ports.git import Checkout, GitError

MIN_GIT_VERSION = (2, 38)  # `git merge-tree --write-tree`
LOCAL_TIMEOUT = 120.0
KEEP_SEEDS = 8
"""Prepared trees kept per mirror (one per recent build command), copied into job directories."""

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_SCHEMES = {"https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"}
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?([^@/:]+):(.*)")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# Variables that would point git at another repository than the one we name with -C.
_REPO_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX",
)
# Diff output that `git apply` and EESSI's scripts read, whatever a site's config says.
_DIFF = ("diff", "--binary", "--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/")


class _Result(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: str


def _base_env() -> Dict[str, str]:
    """The bot's environment for git: site config kept (proxies live there), prompts never."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _auth_env(env: Dict[str, str], url: str, token: Optional[str]) -> Tuple[Dict[str, str], List[str]]:
    """Add the token as an http.extraHeader through GIT_CONFIG_*; returns the env and what to scrub."""
    if not token or urlsplit(url).scheme.lower() not in ("http", "https"):
        return env, []
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    try:
        index = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        index = 0
    env = dict(env)
    env["GIT_CONFIG_COUNT"] = str(index + 1)
    env[f"GIT_CONFIG_KEY_{index}"] = "http.extraHeader"
    env[f"GIT_CONFIG_VALUE_{index}"] = f"Authorization: Basic {basic}"
    return env, [token, basic]


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _run(
    argv: List[str],
    *,
    stage: str,
    what: str,
    timeout: float,
    env: Optional[Dict[str, str]] = None,
    stdin: Optional[bytes] = None,
    secrets: Sequence[str] = (),
) -> _Result:
    """Run git (see `process.run`: a timeout also ends its helpers, ssh and git-remote-https, and ssh has no
    terminal to prompt on); the secrets are scrubbed from what it said."""
    try:
        result = process.run(argv, env=_base_env() if env is None else env, timeout=timeout, stdin=stdin)
    except OSError as exc:
        raise GitError(stage, f"cannot run git ({exc.strerror or exc}); is git installed?") from exc
    except process.TimedOut as exc:
        text = _scrub(exc.stderr.decode("utf-8", "replace"), secrets)
        raise GitError(stage, f"{what} took longer than {timeout:g} s and was stopped", text) from None
    return _Result(result.returncode, result.stdout, _scrub(result.stderr_text, secrets))


def _ok(argv: List[str], *, stage: str, what: str, timeout: float, stdin: Optional[bytes] = None) -> bytes:
    """Stdout if git succeeded, else a GitError for `stage`."""
    result = _run(argv, stage=stage, what=what, timeout=timeout, stdin=stdin)
    if result.returncode != 0:
        raise GitError(stage, f"{what} failed (exit code {result.returncode})", result.stderr)
    return result.stdout


def git_version() -> Tuple[int, int]:
    """(major, minor) of the git on PATH, for check-config."""
    out = _ok(["git", "--version"], stage="clone", what="git --version", timeout=30).decode("utf-8", "replace")
    match = re.search(r"(\d+)\.(\d+)", out)
    if not match:
        raise GitError("clone", f"cannot read the git version from {out.strip()!r}")
    return int(match.group(1)), int(match.group(2))


def git_version_problem() -> Optional[str]:
    """A sentence for check-config if git is missing or too old, else None."""
    try:
        version = git_version()
    except GitError as exc:
        return exc.message
    if version < MIN_GIT_VERSION:
        need = ".".join(map(str, MIN_GIT_VERSION))
        return f"git {version[0]}.{version[1]} is too old: building PRs needs git >= {need} (git merge-tree)"
    return None


def _component(text: str) -> str:
    """One path component that can be neither `.`/`..` nor hidden, nor carry a separator."""
    out = "".join(c if c in _SAFE_CHARS else "".join(f"%{b:02X}" for b in c.encode()) for c in text)
    if out.startswith("."):
        out = "%2E" + out[1:]
    if len(out) > 200:
        raise ValueError(f"repository URL has a path component that is too long: {text[:40]}...")
    return out


def mirror_relpath(url: str) -> Path:
    """Where under the mirrors' root a URL's mirror lives: `github.com/EESSI/software-layer.git`
    for https, `<scheme>/<host>/...` for others (`file/srv/git/x.git`); users and passwords
    are left out, and nothing in the URL can leave the root."""
    if not url or url != url.strip() or url.startswith("-") or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError(f"not a usable repository URL: {url!r}")
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"repository URL scheme {scheme!r} is not supported: {url!r}")
        if scheme in ("http", "https") and parts.password:
            raise ValueError("repository URL must not carry a password; the token goes through the environment")
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        path = parts.path
    elif url.startswith("/"):
        scheme, host, path = "file", "", url
    else:
        match = _SCP_LIKE.fullmatch(url)
        if "::" in url or not match:  # `transport::address` would run a remote helper
            raise ValueError(f"not a usable repository URL: {url!r}")
        scheme, host, path = "ssh", match.group(1).lower(), match.group(2)
    names = [c for c in path.split("/") if c not in ("", ".")]
    if not names:
        raise ValueError(f"repository URL has no path: {url!r}")
    if not names[-1].endswith(".git"):
        names[-1] += ".git"
    prefix = [] if scheme == "https" else [scheme.replace("+", "-")]
    return Path(*prefix, *([_component(host.lower())] if host else []), *(_component(n) for n in names))


@contextlib.contextmanager
def _flock(path: Path, exclusive: bool) -> Iterator[None]:
    """flock on a sibling file: one writer per mirror across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove `path` itself (a symlink is unlinked, never followed), making read-only dirs writable."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
        return
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        path.chmod(path.stat().st_mode | stat.S_IRWXU)
        for top, dirs, _ in os.walk(path):  # top-down: each dir is made writable before it is entered
            for sub in (Path(top, name) for name in dirs):
                if not sub.is_symlink():
                    sub.chmod(sub.stat().st_mode | stat.S_IRWXU)
        shutil.rmtree(path)


def _check_branch(base_ref: str) -> None:
    """Refuse what git would not take as a branch name, before anything else runs."""
    bad = (
        not base_ref
        or len(base_ref) > 250
        or base_ref.startswith("-")
        or base_ref == "HEAD"
        or "@{" in base_ref
        or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in base_ref)
    )
    if not bad:
        argv = ["git", "check-ref-format", "--branch", base_ref]
        result = _run(argv, stage="checkout", what="git check-ref-format", timeout=30)
        bad = result.returncode != 0 or result.stdout.decode("utf-8", "replace").strip() != base_ref
    if bad:
        raise GitError("checkout", f"{base_ref!r} is not a valid branch name")


def _check_pr(pr_number: int) -> None:
    if isinstance(pr_number, bool) or not isinstance(pr_number, int) or pr_number <= 0:
        raise ValueError(f"PR number must be a positive integer, not {pr_number!r}")


def _check_sha(name: str, sha: str) -> None:
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise ValueError(f"{name} must be a full hexadecimal commit id, not {sha!r}")


class GitMirrors:
    """The Git port: bare mirrors under `root` (on a local disk of the login node)."""

    def __init__(self, root: Path, *, fetch_timeout: float = 600.0, local_timeout: float = LOCAL_TIMEOUT) -> None:
        self.root = Path(root).absolute()
        self.fetch_timeout = fetch_timeout
        self.local_timeout = local_timeout
        self.upstream_fetches = 0  # fetches from the repository's URL: observable for tests and metrics
        self._count_lock = threading.Lock()

    def mirror_path(self, url: str) -> Path:
        return self.root / mirror_relpath(url)

    def _git(self, repo: Path, *args: str, stage: str, what: str, stdin: Optional[bytes] = None) -> bytes:
        """A local git step in `repo` that must succeed."""
        argv = ["git", "-C", str(repo), *args]
        return _ok(argv, stage=stage, what=what, timeout=self.local_timeout, stdin=stdin)

    def prepare(
        self,
        url: str,
        base_ref: str,
        pr_number: int,
        head_sha: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Checkout:
        _check_pr(pr_number)
        if head_sha is not None:
            _check_sha("head_sha", head_sha)
        mirror = self.mirror_path(url)
        _check_branch(base_ref)
        base_refname, pr_refname = f"refs/heads/{base_ref}", f"refs/pull/{pr_number}/head"
        with _flock(mirror.with_name(mirror.name + ".lock"), exclusive=True):
            created = self._ensure_mirror(mirror, url)
            env, secrets = _auth_env(_base_env(), url, token)
            refspecs = [f"+{base_refname}:{base_refname}", f"+{pr_refname}:{pr_refname}"]
            argv = ["git", "-C", str(mirror), "fetch", "--quiet", "--no-tags", "origin", *refspecs]
            with self._count_lock:
                self.upstream_fetches += 1
            what = f"fetching {url}"
            fetch = _run(argv, stage="clone", what=what, timeout=self.fetch_timeout, env=env, secrets=secrets)
            if fetch.returncode != 0:
                try:
                    self._explain_fetch_failure(mirror, url, base_ref, pr_number, fetch.stderr, env, secrets)
                finally:
                    if created:  # a mistyped URL leaves no empty mirror behind
                        with contextlib.suppress(OSError):
                            _remove_tree(mirror)
            revs = (f"{base_refname}^{{commit}}", f"{pr_refname}^{{commit}}")
            shas = self._git(mirror, "rev-parse", *revs, stage="clone", what="reading the fetched refs")
            base_sha, fetched_head = shas.decode().split()
            head = fetched_head if head_sha is None else head_sha
            if head != fetched_head:
                argv = ["git", "-C", str(mirror), "cat-file", "-e", f"{head}^{{commit}}"]
                if _run(argv, stage="pr_diff", what="git cat-file", timeout=self.local_timeout).returncode != 0:
                    raise GitError(
                        "pr_diff",
                        f"the PR's head changed from {head[:12]} (when the command was given) to"
                        f" {fetched_head[:12]}, and {head[:12]} cannot be fetched any more;"
                        " give the command again to build the new head",
                    )
            merge_base = self._merge_base(mirror, base_ref, base_sha, head)
            tree = self._merge_tree(mirror, base_ref, base_sha, head)
        return Checkout(url, base_ref, base_sha, head, merge_base, tree)

    def _ensure_mirror(self, mirror: Path, url: str) -> bool:
        """Create the bare mirror if missing (atomically: a finished one is renamed into place);
        True if it was created."""
        what = f"setting up the mirror {mirror}"
        if (mirror / "HEAD").is_file():
            self._git(mirror, "config", "remote.origin.url", url, stage="clone", what=what)
            return False
        new = mirror.with_name(mirror.name + ".new")
        try:
            _remove_tree(new)
            _remove_tree(mirror)
            new.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GitError("clone", f"cannot make the mirror directory {mirror}: {exc}") from exc
        argv = ["git", "-c", "init.defaultBranch=main", "init", "--quiet", "--template=", "--bare", str(new)]
        _ok(argv, stage="clone", what=what, timeout=self.local_timeout)
        self._git(new, "config", "remote.origin.url", url, stage="clone", what=what)
        # Job trees fetch the base tip by id, whatever protocol version a site configures.
        self._git(new, "config", "uploadpack.allowAnySHA1InWant", "true", stage="clone", what=what)
        new.rename(mirror)
        return True

    def _explain_fetch_failure(
        self, mirror: Path, url: str, base_ref: str, pr_number: int, stderr: str, env: Dict[str, str],
        secrets: Sequence[str],
    ) -> None:
        """The one fetch failed; ls-remote (on failure only) tells which of the refs is missing."""
        base_refname, pr_refname = f"refs/heads/{base_ref}", f"refs/pull/{pr_number}/head"
        argv = ["git", "-C", str(mirror), "ls-remote", "origin", base_refname, pr_refname]
        timeout = min(self.fetch_timeout, LOCAL_TIMEOUT)
        listing = _run(argv, stage="clone", what=f"listing {url}", timeout=timeout, env=env, secrets=secrets)
        names = {line.split("\t", 1)[-1] for line in listing.stdout.decode("utf-8", "replace").splitlines()}
        if listing.returncode == 0 and base_refname not in names:
            raise GitError("checkout", f"the base branch {base_ref!r} does not exist in {url}", stderr)
        if listing.returncode == 0 and pr_refname not in names:
            raise GitError("pr_diff", f"{url} has no {pr_refname}", stderr)
        raise GitError("clone", f"cannot fetch {base_ref!r} and PR #{pr_number} from {url}", stderr)

    def _merge_base(self, mirror: Path, base_ref: str, base_sha: str, head: str) -> str:
        argv = ["git", "-C", str(mirror), "merge-base", base_sha, head]
        result = _run(argv, stage="apply", what="git merge-base", timeout=self.local_timeout)
        if result.returncode != 0 or not _SHA.fullmatch(result.stdout.decode().strip()):
            raise GitError("apply", f"the PR has no history in common with {base_ref!r}", result.stderr)
        return result.stdout.decode().strip()

    def _merge_tree(self, mirror: Path, base_ref: str, base_sha: str, head: str) -> str:
        """3-way merge of the PR into the base tip, written into the mirror's objects only."""
        argv = ["git", "-C", str(mirror), "merge-tree", "--write-tree", "--no-messages", "--name-only", base_sha, head]
        result = _run(argv, stage="apply", what="git merge-tree", timeout=self.local_timeout)
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        if result.returncode == 1 and lines:  # conflicts: the tree, then one conflicted path per line
            files = ", ".join(dict.fromkeys(line for line in lines[1:] if line))
            message = f"the PR's changes conflict with the tip of {base_ref!r} ({base_sha[:12]}) in: {files}"
            raise GitError("apply", message, result.stderr)
        if result.returncode != 0 or not lines or not _SHA.fullmatch(lines[0]):
            raise GitError("apply", f"git merge-tree failed (exit code {result.returncode})", result.stderr)
        return lines[0]

    def make_tree(self, checkout: Checkout, dest: Path, pr_number: int) -> None:
        """A self-contained tree at `dest`: copied from this checkout's seed, made once per build.

        The seed (base tip checked out, the PR's changes applied, `<N>.diff`) is built from the mirror
        the first time; every other job of the command copies it, which costs a plain file copy
        instead of packing, fetching and checking out the tree again.
        """
        _check_pr(pr_number)
        for name in ("base_sha", "head_sha", "merge_base", "merged_tree"):
            _check_sha(name, getattr(checkout, name))
        mirror = self.mirror_path(checkout.url)
        if not (mirror / "HEAD").is_file():
            raise GitError("clone", f"there is no mirror of {checkout.url} to make {dest} from")
        dest = Path(dest).absolute()
        try:
            _remove_tree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GitError("clone", f"cannot make a fresh directory {dest}: {exc}") from exc
        lock = mirror.with_name(mirror.name + ".lock")
        for _ in range(3):
            seed = self._seed(mirror, checkout, pr_number)
            with _flock(lock, exclusive=False):  # no seed is pruned while it is being copied
                if not seed.is_dir():
                    continue  # pruned between its making and this copy: make it again
                # cp (not shutil.copytree): a C loop, and copy-on-write clones where the file system has them.
                _ok(["cp", "-a", "--reflink=auto", "--", str(seed), str(dest)], stage="clone",
                    what=f"copying the prepared tree to {dest}", timeout=self.local_timeout)
                return
        raise GitError("clone", f"the prepared tree for {dest} kept disappearing (too many builds at once?)")

    def _seed(self, mirror: Path, checkout: Checkout, pr_number: int) -> Path:
        """`<mirror>.trees/<merged tree>-<N>`, built under the mirror's lock; old seeds are pruned."""
        seeds = mirror.with_name(mirror.name[: -len(".git")] + ".trees")
        seed = seeds / f"{checkout.merged_tree}-{pr_number}"
        with _flock(mirror.with_name(mirror.name + ".lock"), exclusive=True):
            if seed.is_dir():
                return seed
            building = seeds / f".{seed.name}.new"
            try:
                _remove_tree(building)
                building.mkdir(parents=True)
            except OSError as exc:
                raise GitError("clone", f"cannot make a fresh directory {building}: {exc}") from exc
            self._build_tree(mirror, checkout, building, pr_number)
            building.rename(seed)
            for old in sorted(seeds.iterdir(), key=lambda p: p.stat().st_mtime)[:-KEEP_SEEDS]:
                _remove_tree(old)
        return seed

    def _build_tree(self, mirror: Path, checkout: Checkout, dest: Path, pr_number: int) -> None:
        argv = ["git", "-c", "init.defaultBranch=main", "init", "--quiet", "--template=", str(dest)]
        _ok(argv, stage="clone", what=f"git init {dest}", timeout=self.local_timeout)
        base = checkout.base_sha
        # A pack copied over (not hard links, not alternates): the tree must work without the mirror.
        argv = ["git", "-C", str(dest), "-c", "protocol.version=2", "fetch", "--quiet", "--no-tags"]
        argv += ["--depth", "1", str(mirror), base]
        _ok(argv, stage="clone", what=f"copying {base[:12]} from the mirror", timeout=self.fetch_timeout)
        patch = self._diff(mirror, base, checkout.merged_tree)
        pr_diff = self._diff(mirror, checkout.merge_base, checkout.head_sha)
        detach = ("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", base)
        self._git(dest, *detach, stage="checkout", what=f"checking out {base[:12]}")
        self._git(dest, "remote", "add", "origin", checkout.url, stage="clone", what="setting the remote origin")
        # The PR's changes stay uncommitted on top of the base tip, as the EESSI bot left them.
        apply = ("apply", "--whitespace=nowarn", "--allow-empty")
        self._git(dest, *apply, stdin=patch, stage="apply", what="applying the PR's changes")
        try:
            write_new(dest / f"{pr_number}.diff", pr_diff)  # the PR may have put a link there
        except OSError as exc:
            raise GitError("pr_diff", f"cannot write {pr_number}.diff: {exc}") from exc

    def _diff(self, mirror: Path, old: str, new: str) -> bytes:
        return self._git(mirror, *_DIFF, old, new, "--", stage="pr_diff", what=f"git diff {old[:12]} {new[:12]}")
