"""What jobs see of the bot's environment: the fixed set, `[buildenv] job_environment`, never a secret;
and what a site's app.cfg is told about it (check-config warnings, `--export` in sbatch options)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.adapters.config_files import load_config
from eessi_bot.adapters.slurm import sbatch_argv
from eessi_bot.core.config import Config, Severity
from eessi_bot.core.config.parse import SECRET_ENV
from eessi_bot.core.job_env import (
    DEFAULT_PATH,
    DEFAULT_PATTERNS,
    FIXED,
    looks_secret,
    passable,
    pattern_problem,
    secret_warning,
    select,
    split_patterns,
    without_export,
)
from eessi_bot.jobs.build import BuildService
from eessi_bot.jobs.environment import job_environment
from eessi_bot.jobs.service import JobService
from eessi_bot.ports.scheduler import Submission
from tests.fakes.job_site import JobSite
from tests.fakes.site import write_site

SECRETS = {"GITHUB_APP_SECRET_TOKEN": "s1", "AWS_SECRET_ACCESS_KEY": "s2", "MY_API_TOKEN": "s3",
           "GITHUB_TOKEN": "s4", "AWS_ACCESS_KEY_ID": "s5", "github_token": "s6", "DB_PASSWORD": "s7",
           "SSH_AUTH_SOCK": "s8", "VAULT_Secret": "s9", "MY_PRIVATE_THING": "s10", "GOOGLE_CREDENTIALS": "s11",
           "STRIPE_API_KEY": "s12", "SIGNING_KEY": "s13"}
SITE = {"PATH": "/opt/bin:/usr/bin", "HOME": "/home/bot", "USER": "bot", "LANG": "C.UTF-8",
        "MODULEPATH": "/cvmfs/modules", "MODULESHOME": "/usr/share/lmod", "LMOD_CMD": "/usr/share/lmod/lmod",
        "__LMOD_REF_COUNT_MODULEPATH": "/cvmfs/modules:1", "_ModuleTable001_": "X3Rh", "LOADEDMODULES": "",
        "BASH_ENV": "/usr/share/lmod/init/bash", "BASH_FUNC_module%%": "() {  eval $($LMOD_CMD bash $*)\n}",
        "http_proxy": "http://proxy:3128", "https_proxy": "http://proxy:3128", "NO_PROXY": "localhost",
        "SINGULARITY_BIND": "/cvmfs", "APPTAINER_CACHEDIR": "/scratch/cache", "SINGULARITYENV_FOO": "1",
        "KRB5CCNAME": "FILE:/tmp/krb5cc_1000", "TMPDIR": "/scratch/tmp", "LC_CTYPE": "C.UTF-8",
        "EDITOR": "vim", "SLURM_CONF": "/etc/slurm/slurm.conf", "OLDPWD": "/home/bot/src"}
BOT_ENV = {**SITE, **SECRETS}


@pytest.mark.parametrize(("env", "patterns", "expected"), [
    (BOT_ENV, (), {"PATH": "/opt/bin:/usr/bin", "HOME": "/home/bot", "USER": "bot", "LANG": "C.UTF-8"}),
    ({}, (), {"PATH": DEFAULT_PATH}),
    ({"PATH": "", "TZ": "", "HOME": "/h"}, (), {"PATH": DEFAULT_PATH, "HOME": "/h"}),
    (BOT_ENV, DEFAULT_PATTERNS,
     {k: v for k, v in SITE.items() if k not in ("EDITOR", "SLURM_CONF", "OLDPWD")}),
    (BOT_ENV, ("*",), SITE),
    (BOT_ENV, tuple(SECRETS), {k: SITE[k] for k in ("PATH", "HOME", "USER", "LANG")}),
    (BOT_ENV, ("GITHUB_*", "AWS_*", "*TOKEN*", "*_KEY", "MODULEPATH"),
     {**{k: SITE[k] for k in ("PATH", "HOME", "USER", "LANG")}, "MODULEPATH": "/cvmfs/modules"}),
    ({"HTTP_PROXY": "p", "http_proxy": "q"}, ("http_proxy",), {"PATH": DEFAULT_PATH, "http_proxy": "q"}),
    ({"TMPDIR": "/t", "TMPDIRS": "/u"}, ("TMPDI?",), {"PATH": DEFAULT_PATH, "TMPDIR": "/t"}),
    ({"ALL": "1", "none": "1", "Nil": "1", "A,B": "x", "C=D": "y", "OK": "1"}, ("*",),
     {"PATH": DEFAULT_PATH, "OK": "1"}),
    ({"ALL": "1"}, ("ALL",), {"PATH": DEFAULT_PATH}),
], ids=["fixed-set-only", "path-defaulted", "empty-fixed-values-dropped", "default-patterns",
        "star-is-everything-but-secrets", "secret-names-asked-by-name", "secret-globs-asked",
        "names-are-case-sensitive", "question-mark-is-one-character", "slurm-keywords-and-odd-names-never",
        "all-by-name-never"])
def test_select(env: Dict[str, str], patterns: Tuple[str, ...], expected: Dict[str, str]) -> None:
    assert select(env, patterns) == expected


def test_default_is_the_jobs_default() -> None:
    assert job_environment(BOT_ENV) == select(BOT_ENV, DEFAULT_PATTERNS)
    assert "MODULEPATH" in job_environment(BOT_ENV) and "GITHUB_TOKEN" not in job_environment(BOT_ENV)


_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", max_size=8)
_SECRET_WORD = st.sampled_from(["TOKEN", "SECRET", "PASSWORD", "PRIVATE", "CREDENTIAL", "PASSWD", "API_KEY"])


def _mixed_case(word: str, flips: List[bool]) -> str:
    return "".join(c.lower() if flip else c for c, flip in zip(word, flips + [False] * len(word)))


@given(prefix=_WORD, word=_SECRET_WORD, suffix=_WORD, flips=st.lists(st.booleans(), max_size=12),
       patterns=st.lists(st.sampled_from(["*", "*_*", "?*", "*TOKEN*", "MY_*", "GITHUB_*", "AWS_*"]), min_size=1))
def test_a_secret_looking_name_never_reaches_a_job(prefix: str, word: str, suffix: str, flips: List[bool],
                                                   patterns: List[str]) -> None:
    name = prefix + _mixed_case(word, flips) + suffix
    assert looks_secret(name)
    assert name not in select({name: "value", "PATH": "/bin"}, patterns)


@given(name=st.text(min_size=1, max_size=12).filter(lambda n: "\x00" not in n))
def test_every_passed_name_can_be_listed_in_sbatch_export(name: str) -> None:
    passed = select({name: "v"}, ("*",))
    if name in passed and name != "PATH":
        assert re.fullmatch(r"[A-Za-z0-9_%]+", name) and name.upper() not in ("ALL", "NONE", "NIL")
        assert not looks_secret(name)


@pytest.mark.parametrize("name", [SECRET_ENV, *SECRETS], ids=["webhook-secret-variable", *SECRETS])
def test_secret_names(name: str) -> None:
    assert looks_secret(name) and not passable(name)


@pytest.mark.parametrize("name", [*FIXED, *SITE])
def test_site_names_are_not_secrets(name: str) -> None:
    assert not looks_secret(name) and passable(name)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("*", "such as GITHUB_APP_SECRET_TOKEN, GITHUB_TOKEN, GH_TOKEN"),
    ("A*", "such as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"),
    ("GITHUB_*", "names secret-looking variables"),
    ("AWS_*", "names secret-looking variables"),
    ("*token*", "names secret-looking variables"),
    ("MY_API_TOKEN", "names secret-looking variables"),
    ("ALL", "is a keyword of sbatch --export"),
    ("LMOD_*", None), ("http_proxy", None), ("MY_*", None), ("*_PROXY", None),
], ids=["star", "a-star", "github", "aws", "token-any-case", "secret-name", "slurm-all", "lmod", "proxy",
        "my-prefix", "proxy-suffix"])
def test_secret_warning(pattern: str, expected: Optional[str]) -> None:
    warning = secret_warning(pattern)
    assert (warning is None) if expected is None else (warning is not None and expected in warning)


def test_the_default_asks_for_no_secret() -> None:
    assert [p for p in DEFAULT_PATTERNS if secret_warning(p) or pattern_problem(p)] == []


@pytest.mark.parametrize(("pattern", "ok"), [
    ("MODULEPATH", True), ("LMOD_*", True), ("BASH_FUNC_module%%", True), ("TMPDI?", True),
    ("FOO=1", False), ("[A-Z]*", False), ("$HOME", False), ("a.b", False), ("A-B", False),
], ids=["name", "glob", "bash-function", "question-mark", "assignment", "brackets", "dollar", "dot", "dash"])
def test_pattern_problem(pattern: str, ok: bool) -> None:
    assert (pattern_problem(pattern) is None) is ok


@pytest.mark.parametrize(("value", "expected"), [
    ("MODULEPATH LMOD_*\n  http_proxy", ("MODULEPATH", "LMOD_*", "http_proxy")),
    ("MODULEPATH,LMOD_*, http_proxy", ("MODULEPATH", "LMOD_*", "http_proxy")),
    ("", ()), ("  ", ()),
], ids=["whitespace", "commas", "empty", "blank"])
def test_split_patterns(value: str, expected: Tuple[str, ...]) -> None:
    assert split_patterns(value) == expected


@pytest.mark.parametrize(("params", "kept", "removed"), [
    (("-p", "zen2", "--export=ALL"), ("-p", "zen2"), ["--export=ALL"]),
    (("--export", "ALL", "--mem=4G"), ("--mem=4G",), ["--export ALL"]),
    (("--export=NONE", "--export=PATH,FOO"), (), ["--export=NONE", "--export=PATH,FOO"]),
    (("--export-file=/etc/env", "-p", "x"), ("--export-file=/etc/env", "-p", "x"), []),
    (("--export",), (), ["--export"]),
], ids=["joined", "separate", "twice", "export-file-kept", "dangling"])
def test_without_export(params: Tuple[str, ...], kept: Tuple[str, ...], removed: List[str]) -> None:
    assert without_export(params) == (kept, removed)


# -- app.cfg ---------------------------------------------------------------------------------------------

def load(tmp_path: Path, **site: Any) -> Tuple[Optional[Config], Dict[Severity, List[str]]]:
    config, problems = load_config(write_site(tmp_path, **site), {"HOME": str(tmp_path)}, 4)
    by_severity: Dict[Severity, List[str]] = {s: [] for s in Severity}
    for problem in problems:
        by_severity[problem.severity].append(problem.render())
    return config, by_severity


@pytest.mark.parametrize(("setting", "expected"), [
    ("", DEFAULT_PATTERNS),
    ("job_environment = MODULEPATH LMOD_* http_proxy", ("MODULEPATH", "LMOD_*", "http_proxy")),
    ("job_environment =", ()),
], ids=["absent-is-default", "listed", "empty-is-fixed-set-only"])
def test_config_value(tmp_path: Path, setting: str, expected: Tuple[str, ...]) -> None:
    config, problems = load(tmp_path, buildenv_extra=setting)
    assert config is not None, problems
    assert config.buildenv.job_environment == expected
    assert not [w for w in problems[Severity.WARNING] if "job_environment" in w]


def test_config_warns_about_each_secret_glob(tmp_path: Path) -> None:
    config, problems = load(tmp_path, buildenv_extra="job_environment = MODULEPATH * AWS_* MY_API_TOKEN LMOD_*")
    assert config is not None, problems
    warned = [w for w in problems[Severity.WARNING] if "[buildenv] job_environment" in w]
    assert [re.search(r"job_environment = '([^']*)'", w).group(1) for w in warned] == [  # type: ignore[union-attr]
        "*", "AWS_*", "MY_API_TOKEN"]
    assert all("never passed to jobs" in w for w in warned)
    assert config.buildenv.job_environment == ("MODULEPATH", "*", "AWS_*", "MY_API_TOKEN", "LMOD_*")


def test_config_refuses_what_is_no_name(tmp_path: Path) -> None:
    config, problems = load(tmp_path, buildenv_extra="job_environment = MODULEPATH FOO=bar")
    assert config is None
    assert any("[buildenv] job_environment = 'FOO=bar': is not a variable name or glob" in e
               for e in problems[Severity.ERROR]), problems[Severity.ERROR]


NODES_WITH_EXPORT = """{
    "cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", "slurm_params": "-p zen2 --export=ALL",
                 "repo_targets": ["eessi.io-2023.06-software"]}}"""


@pytest.mark.parametrize(("site", "where"), [
    ({"buildenv_extra": "slurm_params = --mem=4G --export=ALL"}, "[buildenv] slurm_params"),
    ({"buildenv_extra": "submit_command = sbatch --export ALL"}, "[buildenv] submit_command"),
    ({"node_type_map": NODES_WITH_EXPORT}, "[architecturetargets] node_type_map: node type 'cpu_zen2'"),
], ids=["site-slurm-params", "submit-command", "node-slurm-params"])
def test_a_sites_export_is_left_out_with_a_warning(tmp_path: Path, site: Dict[str, str], where: str) -> None:
    """sbatch takes the last `--export`; the bot's comes last anyway, but a site's is taken out (and said so)
    so that argv holds one `--export` and nobody believes jobs get the whole environment."""
    config, problems = load(tmp_path, backend="slurm", **site)
    assert config is not None, problems
    (warning,) = [w for w in problems[Severity.WARNING] if "--export" in w]
    assert where in warning and "is left out: the bot decides the jobs' environment" in warning
    assert "list the variables jobs need in [buildenv] job_environment" in warning
    b, node = config.buildenv, config.node_types[0]
    submission = Submission(job_dir=tmp_path, script=tmp_path / "job.slurm", name="n", marker="m",
                            options=(*b.slurm_params, *node.slurm_params), hold=True, begin_delay=None,
                            environment={"PATH": "/usr/bin", "MODULEPATH": "/m"})
    argv = sbatch_argv(b.submit_command, submission)
    assert [a for a in argv if a.startswith("--export")] == ["--export=MODULEPATH,PATH"]
    assert "ALL" not in argv


def test_the_build_service_gives_jobs_what_app_cfg_names(tmp_path: Path) -> None:
    site = JobSite(tmp_path, buildenv_extra="job_environment = MODULEPATH http_proxy *TOKEN*")
    builder = BuildService(site.config, site.github, site.git, site.scheduler, site.store, site.clock,
                           tmp_path / "bot-build.slurm", environment=BOT_ENV)
    assert builder.environment == {"PATH": "/opt/bin:/usr/bin", "HOME": "/home/bot", "USER": "bot",
                                   "LANG": "C.UTF-8", "MODULEPATH": "/cvmfs/modules", "http_proxy": "http://proxy:3128"}
    service = JobService(builder, site.store, site.scheduler, site.clock, site.jobs_changed, cancel_on_close=False)
    service.build(site.request(), site.targets("cpu_zen4"), ())
    (submission,) = site.scheduler.submissions.values()
    assert submission.environment == builder.environment
