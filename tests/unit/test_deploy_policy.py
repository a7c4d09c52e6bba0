"""upload_policy over a PR's successful jobs: all, latest, once, none (reference §7.3, its bugs fixed)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.deploy.policy import BuildTarget, Candidate, Decision, History, candidates_of, select
from eessi_bot.core.jobs import Job, JobState

ZEN2 = BuildTarget("eessi.io-2023.06-software", "x86_64/amd/zen2")
ZEN2_GPU = BuildTarget("eessi.io-2023.06-software", "x86_64/amd/zen2", "nvidia/cc80")
ZEN4 = BuildTarget("eessi.io-2023.06-software", "x86_64/amd/zen4")
DEV_ZEN2 = BuildTarget("dev.eessi.io-2023.06-software", "x86_64/amd/zen2")


def name(target: BuildTarget, stamp: int, ext: str = ".tar.gz") -> str:
    accel = f"-accel-{target.accelerator.replace('/', '-')}" if target.accelerator else ""
    return f"eessi-2023.06-software-linux-{target.arch.replace('/', '-')}{accel}-{stamp}{ext}"


def cand(job: int, target: BuildTarget = ZEN2, artefact: Optional[str] = None, finished: float = 0.0) -> Candidate:
    return Candidate(f"key{job}", str(job), target, artefact or name(target, 1700000000 + job),
                     finished or 1700000000.0 + job)


THREE = [cand(1), cand(2), cand(3)]
"""The issue's acceptance: three successful builds of one target."""


def uploaded(decisions: Sequence[Decision]) -> List[Tuple[str, str]]:
    return [(d.candidate.job_id, d.candidate.artefact) for d in decisions if d.upload]


def reasons(decisions: Sequence[Decision]) -> Dict[Tuple[str, str], Optional[str]]:
    return {(d.candidate.job_id, d.candidate.artefact): d.reason for d in decisions}


def record(decisions: Sequence[Decision], history: Optional[History] = None) -> History:
    """The history after these uploads, as the deployer stores it."""
    history = history or History()
    done = [d.candidate for d in decisions if d.upload]
    return History(history.uploads | {(c.job_key, c.artefact) for c in done},
                   history.targets | {c.target for c in done})


@pytest.mark.parametrize(("policy", "expected"), [
    ("all", ["1", "2", "3"]),
    ("latest", ["3"]),
    ("once", ["3"]),
    ("none", []),
    ("sometimes", []),
], ids=["all", "latest", "once", "none", "unknown"])
def test_three_builds_of_one_target(policy: str, expected: List[str]) -> None:
    decisions = select(policy, THREE, History())
    assert [job for job, _ in uploaded(decisions)] == expected
    assert len(decisions) == 3 and all(d.upload == (d.reason is None) for d in decisions)


@pytest.mark.parametrize(("policy", "again"), [
    ("all", ["4"]),
    ("latest", ["4"]),
    ("once", []),
], ids=["all", "latest", "once"])
def test_a_rebuild_after_a_deploy(policy: str, again: List[str]) -> None:
    history = record(select(policy, THREE, History()))
    decisions = select(policy, [*THREE, cand(4)], history)
    assert [job for job, _ in uploaded(decisions)] == again
    assert all(d.reason for d in decisions if not d.upload)


def test_once_never_again_whatever_is_built() -> None:
    history = record(select("once", THREE, History()))
    for rebuild in range(4, 8):
        assert uploaded(select("once", [*THREE, cand(rebuild)], history)) == []


@pytest.mark.parametrize("policy", ["all", "latest", "once"])
def test_nothing_is_uploaded_twice(policy: str) -> None:
    history = record(select(policy, THREE, History()))
    decisions = select(policy, THREE, history)
    assert uploaded(decisions) == []
    assert any("already uploaded" in (d.reason or "") for d in decisions)


@pytest.mark.parametrize("policy", ["latest", "once"])
def test_cpu_and_gpu_targets_never_shadow_each_other(policy: str) -> None:
    """The EESSI bot's `once` prefix match counted `...-amd-zen2` as uploaded when `...-amd-zen2-accel-...` was."""
    first = select(policy, [cand(1, ZEN2_GPU)], History())
    assert uploaded(first) == [("1", name(ZEN2_GPU, 1700000001))]
    decisions = select(policy, [cand(1, ZEN2_GPU), cand(2, ZEN2)], record(first))
    assert uploaded(decisions) == [("2", name(ZEN2, 1700000002))]


@pytest.mark.parametrize("policy", ["latest", "once"])
def test_targets_differ_by_repository_and_architecture(policy: str) -> None:
    decisions = select(policy, [cand(1, ZEN2), cand(2, ZEN4), cand(3, DEV_ZEN2), cand(4, ZEN2_GPU)], History())
    assert sorted(job for job, _ in uploaded(decisions)) == ["1", "2", "3", "4"]


@pytest.mark.parametrize("policy", ["all", "latest", "once"])
def test_bad_names_are_refused_with_reasons_beside_a_good_one(policy: str) -> None:
    good = cand(1)
    bad = [cand(2, artefact="x.tar.gz; touch PWNED"), cand(3, artefact="../../etc/passwd")]
    decisions = select(policy, [*bad, good], History())
    assert uploaded(decisions) == [("1", good.artefact)]
    why = reasons(decisions)
    assert "shell metacharacter" in (why[("2", "x.tar.gz; touch PWNED")] or "")
    assert "path" in (why[("3", "../../etc/passwd")] or "")


def test_a_bad_newer_name_does_not_hide_the_good_one() -> None:
    """A refused name takes no part in `latest`: it cannot be the newest of its target."""
    decisions = select("latest", [cand(1), cand(2, artefact="evil;-1800000000.tar.gz")], History())
    assert uploaded(decisions) == [("1", name(ZEN2, 1700000001))]


@pytest.mark.parametrize(("candidates", "newest"), [
    ([cand(1, artefact="a-300.tar.gz", finished=10), cand(2, artefact="a-200.tar.zst", finished=20)], "1"),
    ([cand(1, artefact="a-200.tar.gz", finished=10), cand(2, artefact="a-200.tar.gz", finished=20)], "2"),
    ([cand(1, artefact="a-5.tar.gz", finished=10), cand(2, artefact="plain.tar.gz", finished=20)], "2"),
    # a name without a timestamp counts by its job's finish, compared with the other's name timestamp
    ([cand(1, artefact="plain.tar.gz", finished=30), cand(2, artefact="a-20.tar.gz", finished=40)], "1"),
    ([cand(1, artefact="a-50.tar.gz", finished=30), cand(2, artefact="plain.tar.gz", finished=40)], "1"),
], ids=["timestamp-beats-finish", "tie-later-finish", "no-timestamp-counts-by-finish", "finish-beats-older-timestamp",
        "timestamp-beats-earlier-finish"])
def test_latest_chooses_by_name_timestamp_then_finish(candidates: List[Candidate], newest: str) -> None:
    decisions = select("latest", candidates, History())
    assert [job for job, _ in uploaded(decisions)] == [newest]
    skipped = [d for d in decisions if not d.upload]
    assert all((d.reason or "").startswith("a newer artefact of this target (") for d in skipped)


def test_all_takes_every_artefact_of_a_job() -> None:
    """The EESSI bot looked at `artefacts[0]` only."""
    two = [cand(1, artefact="a-1.tar.gz"), cand(1, artefact="b-1.tar.gz")]
    assert len(uploaded(select("all", two, History()))) == 2


def test_once_honours_targets_uploaded_by_the_eessi_bot() -> None:
    history = History(targets=frozenset({ZEN2}))
    decisions = select("once", [cand(1, ZEN2), cand(2, ZEN4)], history)
    assert uploaded(decisions) == [("2", name(ZEN4, 1700000002))]
    assert "already uploaded" in (reasons(decisions)[("1", name(ZEN2, 1700000001))] or "")


def test_an_upload_in_progress_blocks_once() -> None:
    history = History(uploads=frozenset({("key1", name(ZEN2, 1700000001))}))
    assert uploaded(select("once", [cand(1), cand(2)], history)) == []


def test_the_same_name_for_one_repository_is_uploaded_once() -> None:
    clash = [cand(1, ZEN2, "stack.tar.gz", 10), cand(2, ZEN2_GPU, "stack.tar.gz", 20)]
    decisions = select("all", clash, History())
    assert uploaded(decisions) == [("2", "stack.tar.gz")]
    assert "job 2 has an artefact of the same name" in (reasons(decisions)[("1", "stack.tar.gz")] or "")


def test_a_job_listing_an_artefact_twice() -> None:
    decisions = select("all", [cand(1), cand(1)], History())
    assert [d.upload for d in decisions] == [True, False]
    assert decisions[1].reason == "the job lists this artefact more than once"


@pytest.mark.parametrize("policy", ["none", "sometimes"])
def test_none_and_unknown_policies_say_so(policy: str) -> None:
    decisions = select(policy, THREE, History())
    assert all(not d.upload and f"upload_policy `{policy}`" in (d.reason or "") for d in decisions)


def test_order_is_deterministic() -> None:
    candidates = [cand(i, t) for i, t in enumerate([ZEN4, ZEN2_GPU, ZEN2, DEV_ZEN2, ZEN2], start=1)]
    expected = select("latest", candidates, History())
    for seed in range(5):
        shuffled = list(candidates)
        random.Random(seed).shuffle(shuffled)
        assert select("latest", shuffled, History()) == expected
    assert [d.candidate.target for d in expected] == [DEV_ZEN2, ZEN2, ZEN2, ZEN2_GPU, ZEN4]


def job(number: int, state: JobState = JobState.FINISHED, result: Optional[str] = "SUCCESS",
        artefacts: Tuple[str, ...] = ("a-1.tar.gz",), accelerator: Optional[str] = None) -> Job:
    return Job(key=f"key{number}", build_key="b", repo="o/r", pr_number=7, node_type="n",
               repo_id="eessi.io-2023.06-software", software_subdir="x86_64/amd/zen2", accelerator=accelerator,
               on_arch="amd-zen2", on_accelerator=None, job_dir="/jobs", backend="slurm", comment_key="c",
               state=state, job_id=str(number), result_status=result, artefacts=artefacts, updated_at=100.0 + number)


def test_candidates_of_successful_finished_jobs_only() -> None:
    jobs = [job(1, artefacts=("a-1.tar.gz", "../x")), job(2, result="FAILURE"), job(3, state=JobState.RUNNING),
            job(4, result=None), replace(job(5), job_id=None), job(6, accelerator="nvidia/cc80", artefacts=())]
    assert candidates_of(jobs) == [
        Candidate("key1", "1", ZEN2, "a-1.tar.gz", 101.0), Candidate("key1", "1", ZEN2, "../x", 101.0)]


_targets = st.sampled_from([ZEN2, ZEN2_GPU, ZEN4, DEV_ZEN2])
_artefacts = st.one_of(st.builds(lambda p, n: f"{p}-{n}.tar.gz", st.sampled_from(["a", "b"]), st.integers(0, 5)),
                       st.sampled_from(["plain.tar.gz", "x; y", "../up", ""]))
_candidates = st.lists(st.builds(lambda j, t, a, f: Candidate(f"key{j}", str(j), t, a, float(f)),
                                 st.integers(1, 4), _targets, _artefacts, st.integers(0, 5)), max_size=12)


@given(st.sampled_from(["all", "latest", "once", "none"]), _candidates, st.randoms())
def test_select_properties(policy: str, candidates: List[Candidate], rnd: random.Random) -> None:
    decisions = select(policy, candidates, History())
    assert sorted(map(repr, (d.candidate for d in decisions))) == sorted(map(repr, candidates))
    assert all(d.upload == (d.reason is None) for d in decisions)
    chosen = [d.candidate for d in decisions if d.upload]
    if policy in ("latest", "once"):
        assert len({c.target for c in chosen}) == len(chosen)
    assert len({(c.target.repo_id, c.artefact) for c in chosen}) == len(chosen)
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert select(policy, shuffled, History()) == decisions
