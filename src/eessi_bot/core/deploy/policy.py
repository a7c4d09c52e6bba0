"""Which artefacts a deploy uploads: `upload_policy` (reference §7.3) over a PR's successful jobs.

Fixed here (EESSI bot ⚠): `all` really is every artefact of every successful job (it kept one per
payload, the last in glob order); only `artefacts[0]` was looked at; `once` prefix-matched payloads
(a CPU target counted as uploaded when its GPU sibling was) and was scoped per month; an unknown
policy did nothing silently. A target is (repository, architecture, accelerator), compared whole.
Names refused by `check_artefact` come out as decisions too, so the PR is told about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union

from eessi_bot.core.deploy.artefacts import artefact_timestamp, check_artefact
from eessi_bot.core.jobs import Job, JobState

POLICIES = ("all", "latest", "once", "none")


@dataclass(frozen=True)
class BuildTarget:
    """What an artefact is for: a repository, a software_subdir (`x86_64/amd/zen2`), an accelerator."""

    repo_id: str
    arch: str
    accelerator: Optional[str] = None

    def sort_key(self) -> Tuple[str, str, str]:
        return (self.repo_id, self.arch, self.accelerator or "")

    def describe(self) -> str:
        return self.arch + (f", {self.accelerator}" if self.accelerator else "") + f" for {self.repo_id}"


@dataclass(frozen=True)
class Candidate:
    """One artefact of a finished successful job."""

    job_key: str
    job_id: str
    target: BuildTarget
    artefact: str
    """Untrusted: as the result file named it."""
    finished_at: float


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    upload: bool
    reason: Optional[str] = None
    """Why not, when `upload` is False."""


@dataclass(frozen=True)
class History:
    """What earlier deploys of this PR did."""

    uploads: FrozenSet[Tuple[str, str]] = frozenset()
    """(job_key, artefact) pairs with an upload done or in progress."""
    targets: FrozenSet[BuildTarget] = frozenset()
    """Targets that ever had an upload for this PR, the EESSI bot's `uploaded.txt` included (`once`)."""


def candidates_of(jobs: Iterable[Job]) -> List[Candidate]:
    """Every artefact of every finished job whose result is SUCCESS. `finished_at` is the job row's
    last update (the finish, unless something was written to the row since)."""
    return [Candidate(job.key, job.job_id, BuildTarget(job.repo_id, job.software_subdir, job.accelerator),
                      artefact, job.updated_at)
            for job in jobs
            if job.state is JobState.FINISHED and job.result_status == "SUCCESS" and job.job_id
            for artefact in job.artefacts]


def _order(c: Candidate) -> Tuple[Tuple[str, str, str], float, str, str, str]:
    return (c.target.sort_key(), c.finished_at, c.job_key, c.job_id, c.artefact)


def _age(c: Candidate) -> Tuple[Union[int, float], float, str, str]:
    """Newer is larger: the name's timestamp (else the job's finish), then the later-finished job."""
    stamp = artefact_timestamp(c.artefact)
    return (stamp if stamp is not None else c.finished_at, c.finished_at, c.job_key, c.artefact)


_Item = Tuple[int, Candidate]
"""A candidate with its place in the sorted input: the same candidate may be listed twice."""


def _newest(group: Sequence[_Item]) -> _Item:
    return max(group, key=lambda item: _age(item[1]))


def _already(c: Candidate, history: History) -> Optional[str]:
    if (c.job_key, c.artefact) in history.uploads:
        return "already uploaded (or being uploaded) by an earlier deploy"
    return None


def _by_target(usable: Sequence[_Item]) -> Dict[BuildTarget, List[_Item]]:
    groups: Dict[BuildTarget, List[_Item]] = {}
    for item in usable:
        groups.setdefault(item[1].target, []).append(item)
    return groups


def _latest(usable: Sequence[_Item], history: History) -> Dict[int, Optional[str]]:
    verdict: Dict[int, Optional[str]] = {}
    for group in _by_target(usable).values():
        newest, top = _newest(group)
        for i, c in group:
            verdict[i] = _already(c, history) or (
                None if i == newest else
                f"a newer artefact of this target ({top.artefact} of job {top.job_id}) is chosen")
    return verdict


def _once(usable: Sequence[_Item], history: History) -> Dict[int, Optional[str]]:
    verdict: Dict[int, Optional[str]] = {}
    for target, group in _by_target(usable).items():
        done = target in history.targets or any(_already(c, history) for _, c in group)
        newest, top = _newest(group)
        for i, c in group:
            if done:
                verdict[i] = _already(c, history) or "upload_policy `once`: this target was already uploaded"
            elif i != newest:
                verdict[i] = (f"upload_policy `once`: one artefact per target, the newest "
                              f"({top.artefact} of job {top.job_id}) is chosen")
            else:
                verdict[i] = None
    return verdict


def _policy_verdict(policy: str, usable: Sequence[_Item], history: History) -> Dict[int, Optional[str]]:
    if policy == "all":
        return {i: _already(c, history) for i, c in usable}
    if policy == "latest":
        return _latest(usable, history)
    if policy == "once":
        return _once(usable, history)
    reason = ("upload_policy `none`: nothing is uploaded" if policy == "none"
              else f"upload_policy `{policy}` is unknown (known: {', '.join(POLICIES)}): nothing is uploaded")
    return {i: reason for i, _ in usable}


def _same_place(chosen: Sequence[_Item]) -> Dict[int, Optional[str]]:
    """Two chosen artefacts of one name for one repository would land on one key: the later-finished
    job's is kept."""
    clashes: Dict[int, Optional[str]] = {}
    groups: Dict[Tuple[str, str], List[_Item]] = {}
    for item in chosen:
        groups.setdefault((item[1].target.repo_id, item[1].artefact), []).append(item)
    for group in groups.values():
        keep, kept = max(group, key=lambda it: (it[1].finished_at, it[1].job_key, it[1].target.sort_key()))
        for i, _ in group:
            if i != keep:
                clashes[i] = f"job {kept.job_id} has an artefact of the same name for this repository"
    return clashes


def select(policy: str, candidates: Sequence[Candidate], history: History) -> List[Decision]:
    """One decision per candidate, ordered by (target, finish time, job, artefact) whatever the
    input order: upload or not, and why not."""
    ordered = list(enumerate(sorted(candidates, key=_order)))
    verdict: Dict[int, Optional[str]] = {}
    seen = set()
    for i, c in ordered:
        reason = check_artefact(c.artefact)
        if reason is None and (c.job_key, c.artefact) in seen:
            reason = "the job lists this artefact more than once"
        seen.add((c.job_key, c.artefact))
        if reason is not None:
            verdict[i] = reason
    usable = [item for item in ordered if item[0] not in verdict]
    chosen = _policy_verdict(policy, usable, history)
    chosen.update(_same_place([item for item in usable if chosen[item[0]] is None]))
    verdict.update(chosen)
    return [Decision(c, verdict[i] is None, verdict[i]) for i, c in ordered]
