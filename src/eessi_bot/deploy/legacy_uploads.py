"""What the EESSI bot uploaded for a PR before the site switched: its `YYYY.MM/pr_N/uploaded.txt`
files (lines `<job id>/<artefact>`), so that `upload_policy = once` does not upload a target again.

The EESSI layout has no owner/repo level, so these files are the PR number's in any repository the
instance served; `once` errs on the side of not uploading twice. The files were written by the old
bot and are read with the same care as anything in the jobs tree (no links, size-capped).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Dict, FrozenSet, List, Tuple

from eessi_bot.core.config import Config
from eessi_bot.core.deploy.legacy import legacy_targets, parse_uploaded_txt
from eessi_bot.core.deploy.policy import BuildTarget
from eessi_bot.jobs.files import read_text

MAX_BYTES = 1024 * 1024


def legacy_targets_for(config: Config, pr_number: int) -> FrozenSet[BuildTarget]:
    entries: List[Tuple[str, str]] = []
    known: Dict[str, str] = {}
    base = config.buildenv.jobs_base_dir
    for listing in sorted(base.glob(f"[0-9][0-9][0-9][0-9].[0-9][0-9]/pr_{pr_number}/uploaded.txt")):
        found = parse_uploaded_txt(read_text(listing, MAX_BYTES) or "")
        entries += found
        for job_id, _ in found:
            repo_id = _repo_id(listing.parent / job_id / "cfg" / "job.cfg")
            if repo_id:
                known[job_id] = repo_id
    if not entries:
        return frozenset()
    return legacy_targets(entries, sorted(config.repos), known)


def _repo_id(job_cfg: Path) -> str:
    """`[repository] repo_id` of an EESSI job directory's `cfg/job.cfg`, or "" when unreadable."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_text(job_cfg, 64 * 1024) or "")
    except configparser.Error:
        return ""
    return parser.get("repository", "repo_id", fallback="").strip()
