"""Load app.cfg from disk and check what must exist: key, repos.cfg, work directories, commands.

Never contacts GitHub, S3 or Slurm (check-config and serve must work offline).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eessi_bot.adapters import process
from eessi_bot.adapters.git_mirror import git_version_problem
from eessi_bot.adapters.slurm import template_problem
from eessi_bot.adapters.ssh_signer import check_private_key
from eessi_bot.core.config import Config, ConfigError, Problem, RepoDefinition, Severity, parse_config
from eessi_bot.core.config.crosscheck import cross_check
from eessi_bot.core.config.layout import Layout, locate
from eessi_bot.core.config.parse import PLACEHOLDER_PATH
from eessi_bot.core.config.problems import errors
from eessi_bot.core.config.repos import parse_repos_cfg

SANDBOX_PROBE = ("--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc",
                 "--tmpfs", "/tmp",  # noqa: S108 - an empty /tmp inside the sandbox, not a file of the bot's
                 "--unshare-pid", "--die-with-parent", "--cap-drop", "ALL", "--", "true")
"""Arguments of the trivial sandbox check-config starts: the namespaces and mounts of the job script's
(`eessi_bot/data/bot-build.slurm`, "The sandbox")."""

_FIX_HINT = "fix bwrap there, or set job_sandbox = none"
_USERNS_HINT = ("bwrap needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0; Debian: "
                "kernel.unprivileged_userns_clone = 1; Ubuntu 24.04: an AppArmor profile that allows bwrap) "
                "or a setuid-root bwrap; or set job_sandbox = none")

UNREADABLE = "cannot read the configuration file"
"""How the one problem of a configuration file that could not be read begins."""

_NETWORK_FS = {"nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "beegfs", "fuse.sshfs", "ceph", "panfs"}


def load_config(path: Path, env: Optional[Mapping[str, str]] = None,
                cpu_count: Optional[int] = None) -> Tuple[Optional[Config], List[Problem]]:
    """Parse and check `path`. Problems are attributed to the file they are about.

    `env` and `cpu_count` default to this machine's (the parser itself reads neither).
    """
    env = os.environ if env is None else env
    cpu_count = (os.cpu_count() or 1) if cpu_count is None else cpu_count
    file = str(path)
    text = _read_text(path)
    if isinstance(text, Problem):
        return None, [text]
    config, problems = parse_config(text, env, cpu_count)
    problems = [p.located(file) for p in problems]
    if config is None:
        return None, problems
    config = dataclasses.replace(config, source=path.absolute())
    broken = {(p.section, p.key) for p in errors(problems)}
    if ("github", "private_key") not in broken:
        problems += _check_private_key(config.github.private_key, file)
    if ("repo_targets", "repos_cfg_dir") not in broken:
        repos, repo_problems = _load_repos(config, file)
        problems += repo_problems
        config = dataclasses.replace(config, repos=repos)
        problems += [p.located(file) for p in cross_check(config, repos)]
    if ("deploycfg", "signing") not in broken:
        problems += _check_signing_keys(config, file)
    problems += _check_dirs(config, file)
    problems += _check_commands(config, file)
    problems += _check_sandbox(config, env.get("PATH") or os.defpath, file)
    layout = Layout(text)
    problems = [locate([p], layout)[0] if p.file == file else p for p in problems]
    if errors(problems):
        return None, problems
    return config, problems


def _read_text(path: Path) -> Union[str, Problem]:
    """The file's text, or the one problem that says why it cannot be read and what to do. A FIFO or a
    device is refused before it is opened (reading it could wait forever)."""
    def problem(reason: str, hint: str = "pass --config PATH of the app.cfg file",
                line: Optional[int] = None) -> Problem:
        return Problem(Severity.ERROR, "", "", f"{UNREADABLE}: {reason}", hint=hint, file=str(path), line=line)

    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            return problem("Is a directory")
        if not stat.S_ISREG(mode):
            return problem("it is not a regular file")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        return problem(exc.strerror or "No such file or directory",
                       "copy app.cfg.example to app.cfg, or pass --config PATH")
    except PermissionError as exc:
        return problem(exc.strerror or "Permission denied",
                       "run the bot as the user that owns the file, or make it readable by this user")
    except OSError as exc:
        return problem(exc.strerror or str(exc), "pass --config PATH of a readable app.cfg file")
    if b"\0" in data:
        return problem("it is not UTF-8 text but a binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return problem(f"it is not UTF-8 text: it holds byte 0x{data[exc.start]:02x}",
                       "save the file as UTF-8: iconv -f latin1 -t utf-8", data.count(b"\n", 0, exc.start) + 1)


def load_config_or_raise(path: Path, env: Optional[Mapping[str, str]] = None,
                         cpu_count: Optional[int] = None) -> Tuple[Config, List[Problem]]:
    config, problems = load_config(path, env, cpu_count)
    if config is None:
        raise ConfigError(problems)
    return config, problems


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The App's RSA key; raises ValueError with a plain reason."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("it is not an RSA key (GitHub Apps use RSA keys)")
    return key


def _check_private_key(path: Path, file: str) -> List[Problem]:
    def problem(severity: Severity, message: str, hint: Optional[str] = None) -> List[Problem]:
        return [Problem(severity, "github", "private_key", message, str(path), hint, file)]

    try:
        load_private_key(path)
    except FileNotFoundError:
        return problem(Severity.ERROR, "the file does not exist",
                       "download a private key from the GitHub App's settings page")
    except PermissionError:
        return problem(Severity.ERROR, "the file cannot be read by this user")
    except IsADirectoryError:
        return problem(Severity.ERROR, "is a directory, not a key file")
    except (ValueError, TypeError) as exc:
        return problem(Severity.ERROR, f"is not a usable PEM private key: {exc}",
                       "use the .pem file GitHub generated for the App, unencrypted")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return problem(Severity.WARNING, "other users can read the key", f"chmod 600 {path}")
    return []


def _check_signing_keys(config: Config, file: str) -> List[Problem]:
    """Each `[deploycfg] signing` key must be an SSH private key that ssh-keygen can use unattended."""
    problems = []
    for repo_id, entry in sorted(config.deploy.signing.items()):
        key = Path(entry["key"])
        problem = check_private_key(key)
        if problem is not None:
            problems.append(Problem(Severity.ERROR, "deploycfg", "signing", f"{repo_id}: {problem}", str(key),
                                    "generate one with: ssh-keygen -t ed25519 -N '' -f KEYFILE", file))
    return problems


def _load_repos(config: Config, file: str) -> Tuple[Dict[str, RepoDefinition], List[Problem]]:
    repos_cfg = config.repos_cfg_dir / "repos.cfg"
    try:
        text = repos_cfg.read_text(encoding="utf-8")
    except OSError as exc:
        return {}, [Problem(Severity.ERROR, "repo_targets", "repos_cfg_dir",
                            f"cannot read {repos_cfg}: {exc.strerror}", str(config.repos_cfg_dir),
                            "create the directory with a repos.cfg that has one [repo_id] section per "
                            "repository", file)]
    repos, problems = parse_repos_cfg(text, str(repos_cfg))
    for repo in repos.values():
        if repo.config_bundle and not (config.repos_cfg_dir / repo.config_bundle).exists():
            problems.append(Problem(Severity.WARNING, repo.repo_id, "config_bundle",
                                    f"{repo.config_bundle} is not in {config.repos_cfg_dir}",
                                    file=str(repos_cfg)))
    return repos, locate(problems, Layout(text))


def _check_dirs(config: Config, file: str) -> List[Problem]:
    """Work directories may not exist yet, but their nearest existing ancestor must be writable."""
    problems: List[Problem] = []
    wanted = [
        ("bot", "data_dir", config.bot.data_dir),
        ("buildenv", "jobs_base_dir", config.buildenv.jobs_base_dir),
        ("job_manager", "job_ids_dir", config.job_manager.job_ids_dir),
        ("clean_up", "trash_bin_dir", config.clean_up.trash_bin_dir),
    ]
    for section, key, path in wanted:
        if PLACEHOLDER_PATH in (path, *path.parents):
            continue
        reason = _unwritable_reason(path)
        if reason:
            problems.append(Problem(Severity.ERROR, section, key, reason, str(path), file=file))
    for section, log in (("event_handler", config.bot.event_handler_log),
                         ("job_manager", config.job_manager.log_path)):
        if log is not None:
            reason = _unwritable_reason(log.parent)
            if reason:
                problems.append(Problem(Severity.ERROR, section, "log_path", reason, str(log), file=file))
    fs_type = _filesystem_type(config.bot.data_dir)
    if fs_type in _NETWORK_FS:
        problems.append(Problem(Severity.WARNING, "bot", "data_dir",
                                f"is on a network file system ({fs_type}); SQLite needs a local disk",
                                str(config.bot.data_dir), "use a directory on the login node's local disk",
                                file))
    return problems


def _unwritable_reason(path: Path) -> Optional[str]:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return "no part of this path exists"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} exists but is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable by this user"
    return None


def _filesystem_type(path: Path) -> Optional[str]:
    """The type of the mount holding `path` (Linux /proc/mounts), or None when unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3 or len(parts[1]) <= len(best):
            continue
        if target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"):
            best, best_type = parts[1], parts[2]
    return best_type


def _check_commands(config: Config, file: str) -> List[Problem]:
    problems: List[Problem] = []
    if config.buildenv.job_backend == "slurm":
        for section, key, argv in (("buildenv", "submit_command", config.buildenv.submit_command),
                                   ("job_manager", "poll_command", config.job_manager.poll_command),
                                   ("job_manager", "scontrol_command", config.job_manager.scontrol_command),
                                   ("job_manager", "scancel_command", config.job_manager.scancel_command),
                                   ("job_manager", "sacct_command", config.job_manager.sacct_command)):
            template = template_problem(argv) if key in ("scontrol_command", "scancel_command") else None
            if template:
                problems.append(Problem(Severity.ERROR, section, key, template, " ".join(argv), file=file))
            if shutil.which(argv[0]) is None:
                severity = Severity.ERROR if key == "submit_command" else Severity.WARNING
                problems.append(Problem(severity, section, key, f"command '{argv[0]}' was not found",
                                        " ".join(argv), "install the Slurm client or give the full path; "
                                        "or set [buildenv] job_backend = local", file))
    git_problem = git_version_problem()
    if git_problem:
        problems.append(Problem(Severity.ERROR, "buildenv", "", git_problem, hint="install a newer git", file=file))
    if config.buildenv.job_backend == "local":
        for tool in ("setsid", "bash", "cp"):
            if shutil.which(tool) is None:
                problems.append(Problem(Severity.ERROR, "buildenv", "job_backend", f"the local backend needs "
                                        f"'{tool}', which was not found", "local", file=file))
    script = config.buildenv.build_job_script
    if script is not None and not script.is_file():
        problems.append(Problem(Severity.ERROR, "buildenv", "build_job_script", "the file does not exist",
                                str(script), "leave the key out to use the job script shipped with the bot",
                                file))
    upload = config.deploy.upload_script
    if upload is not None and not (upload.is_file() and os.access(upload, os.X_OK)):
        problems.append(Problem(Severity.ERROR, "deploycfg", "artefact_upload_script",
                                "is not an executable file (upload_method = script runs it)", str(upload),
                                "give the path of the EESSI upload script, or set upload_method = boto3", file))
    return problems


def _check_sandbox(config: Config, path: str, file: str) -> List[Problem]:
    """`job_sandbox = bwrap`: start a trivial sandbox as jobs will, and say why it failed. An error with
    the local backend; a warning with Slurm, whose jobs use the compute nodes' bwrap (and fail with a
    clear message when it does not work there)."""
    if config.buildenv.job_sandbox != "bwrap":
        return []
    slurm = config.buildenv.job_backend == "slurm"
    severity = Severity.WARNING if slurm else Severity.ERROR
    nodes = " (jobs run on the compute nodes: they need a working bwrap there)" if slurm else ""

    def problem(message: str, hint: str) -> List[Problem]:
        return [Problem(severity, "buildenv", "job_sandbox", message + nodes, "bwrap", hint, file)]

    bwrap = shutil.which("bwrap", path=path)
    if bwrap is None:
        return problem("bwrap was not found on this machine", "install bubblewrap (the package is called "
                       "bubblewrap on Debian, Ubuntu, RHEL and SUSE), or set job_sandbox = none")
    began = time.monotonic()
    try:
        result = process.run([bwrap, *SANDBOX_PROBE], env={"PATH": os.defpath}, timeout=30)
    except (OSError, process.TimedOut) as exc:
        return problem(f"bwrap cannot start a sandbox on this machine: {exc}", _FIX_HINT)
    if result.returncode != 0:
        reason = " ".join(result.stderr_text.split()) or f"exit code {result.returncode}"
        userns = any(word in reason for word in ("namespace", "uid map", "Operation not permitted"))
        return problem(f"bwrap cannot start a sandbox on this machine: {reason}",
                       _USERNS_HINT if userns else _FIX_HINT)
    took = (time.monotonic() - began) * 1000
    return [Problem(Severity.NOTE, "buildenv", "job_sandbox", f"{bwrap} works on this machine (a trivial "
                    f"sandbox started and ended in {took:.0f} ms)", "bwrap", file=file)]
