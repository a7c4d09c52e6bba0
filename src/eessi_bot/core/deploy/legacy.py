"""The EESSI bot's `uploaded.txt` (reference §7.3): what it deployed before a site switched, so that
`upload_policy = once` does not upload a target a second time.

The file (`jobs_base_dir/YYYY.MM/pr_<N>/uploaded.txt`) holds lines `<JOBID>/<artefact>`; it lies in a
directory PR jobs can write to, so it is parsed as untrusted text and never raises. Its names follow
EESSI's `eessi-<version>-<software|compat|init>-<os>-<arch parts>[-accel-<vendor>-<cc>]-<timestamp>.tar.gz`;
the EESSI bot matched them as unescaped regex prefixes (⚠ a CPU target counted as uploaded when its GPU
sibling was); here a name maps to a whole target or to none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from eessi_bot.core.deploy.artefacts import check_artefact
from eessi_bot.core.deploy.policy import BuildTarget

MAX_LINES = 100_000
MAX_LINE_CHARS = 1024
KINDS = ("software", "compat", "init")

_JOB_ID = re.compile(r"[0-9]{1,20}")
_TIMESTAMP = re.compile(r"[0-9]{1,18}")
_PART = re.compile(r"[A-Za-z0-9_.+]+")


def parse_uploaded_txt(text: str) -> List[Tuple[str, str]]:
    """(job id, artefact) of every usable line, in file order, without repeats. Lines that are not
    `<digits>/<clean file name>` (after stripping blanks) are skipped."""
    entries: List[Tuple[str, str]] = []
    seen = set()
    for line in text.splitlines()[:MAX_LINES]:
        if len(line) > MAX_LINE_CHARS:
            continue
        job_id, sep, artefact = line.strip().partition("/")
        job_id, artefact = job_id.strip(), artefact.strip()
        if not sep or not _JOB_ID.fullmatch(job_id) or check_artefact(artefact) is not None:
            continue
        if (job_id, artefact) not in seen:
            seen.add((job_id, artefact))
            entries.append((job_id, artefact))
    return entries


@dataclass(frozen=True)
class LegacyName:
    """An EESSI artefact name taken apart."""

    version: str
    kind: str
    """software, compat or init."""
    arch: Optional[str]
    """`x86_64/amd/zen2` (`x86_64` for compat); None for init, which has no architecture."""
    accelerator: Optional[str]
    timestamp: int


def _stem(artefact: str) -> str:
    """The name without its extension(s): up to the first `.` of the last `-`-separated field."""
    head, sep, last = artefact.rpartition("-")
    return head + sep + last.split(".", 1)[0]


def _arch_and_accelerator(parts: Sequence[str]) -> Optional[Tuple[str, Optional[str]]]:
    if "accel" in parts:
        at = parts.index("accel")
        arch, accel = parts[:at], parts[at + 1:]
        if not arch or not accel or "accel" in accel:
            return None
        return "/".join(arch), "/".join(accel)
    return ("/".join(parts), None) if parts else None


def parse_legacy_name(artefact: str) -> Optional[LegacyName]:
    """The parts of an EESSI artefact name, or None when it is not one."""
    parts = _stem(artefact).split("-")
    if len(parts) < 4 or parts[0] != "eessi" or parts[2] not in KINDS or not _TIMESTAMP.fullmatch(parts[-1]):
        return None
    if not all(_PART.fullmatch(p) for p in parts):
        return None
    version, kind, timestamp = parts[1], parts[2], int(parts[-1])
    if kind == "init":
        return LegacyName(version, kind, None, None, timestamp) if len(parts) == 4 else None
    found = _arch_and_accelerator(parts[4:-1])  # parts[3] is the OS, `linux`
    if found is None:
        return None
    return LegacyName(version, kind, found[0], found[1], timestamp)


def legacy_target(artefact: str, repo_id: str) -> Optional[BuildTarget]:
    """The target of an EESSI artefact deployed for `repo_id`, or None (not an EESSI name, or an init
    tarball, which has no architecture)."""
    name = parse_legacy_name(artefact)
    if name is None or name.arch is None:
        return None
    return BuildTarget(repo_id, name.arch, name.accelerator)


def _plausible_repos(name: LegacyName, repo_ids: Sequence[str]) -> List[str]:
    """The repository ids an artefact may have been built for: those naming its version and kind as
    `-`-separated parts (`eessi.io-2023.06-software`), else those naming its version, else all."""
    def has(repo_id: str, *words: str) -> bool:
        parts = repo_id.split("-")
        return all(w in parts for w in words)
    for words in ((name.version, name.kind), (name.version,)):
        found = [r for r in repo_ids if has(r, *words)]
        if found:
            return found
    return list(repo_ids)


def legacy_targets(entries: Iterable[Tuple[str, str]], repo_ids: Sequence[str],
                   known: Mapping[str, str]) -> FrozenSet[BuildTarget]:
    """The targets the EESSI bot uploaded, for `History.targets`. `known` maps a job id to its
    repository id where the deployer could still read the job's `cfg/job.cfg`; other lines count for
    every plausible repository among `repo_ids` (once errs on the side of not uploading twice)."""
    targets: Set[BuildTarget] = set()
    for job_id, artefact in entries:
        name = parse_legacy_name(artefact)
        if name is None or name.arch is None:
            continue
        repos = [known[job_id]] if job_id in known else _plausible_repos(name, repo_ids)
        targets.update(BuildTarget(repo_id, name.arch, name.accelerator) for repo_id in repos)
    return frozenset(targets)
