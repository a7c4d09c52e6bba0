"""Which of the bot's environment variables a job gets: a fixed set, plus the names and globs of
`[buildenv] job_environment`, minus anything that looks like a secret, whatever the configuration says.

The EESSI bot let sbatch export its whole environment (`--export=ALL`), so PR code saw the bot's
tokens and AWS keys. Jobs here get named variables only (`sbatch --export=NAME,...`, or exactly this
environment with the local backend). Pure functions: the caller hands in the bot's environment.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

FIXED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")
"""Always passed when set (and not empty)."""
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
"""PATH of a job when the bot has none."""

DEFAULT_PATTERNS = (
    # modules: Lmod and Environment Modules, their state, and the `module` function for batch shells
    "MODULEPATH", "MODULESHOME", "LOADEDMODULES", "_LMFILES_", "LMOD_*", "__LMOD_*", "_ModuleTable*",
    "MODULES_*", "__MODULES_*", "BASH_ENV", "BASH_FUNC_module*", "BASH_FUNC_ml*", "BASH_FUNC__module_raw*",
    # proxies (bot/build.sh falls back to http_proxy from the environment)
    "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY",
    # container runtimes
    "SINGULARITY_*", "SINGULARITYENV_*", "APPTAINER_*", "APPTAINERENV_*",
    # Kerberos ticket cache, scratch directory, locale
    "KRB5CCNAME", "TMPDIR", "LANGUAGE", "LC_*",
)
"""`job_environment` when app.cfg does not set it: what HPC job scripts rely on."""

SECRET_PATTERNS = (
    "GITHUB_*", "AWS_*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*PRIVATE*", "*CREDENTIAL*",
    "*PASSWD*", "*API_KEY*", "*APIKEY*", "*ACCESS_KEY*", "*_KEY", "SSH_AUTH_SOCK",
)
"""Names never passed, compared without regard to case. The webhook secret's variable
(GITHUB_APP_SECRET_TOKEN) is among them; so are the names of keys and of the SSH agent's socket."""

WELL_KNOWN_SECRETS = (
    "GITHUB_APP_SECRET_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "VAULT_TOKEN", "API_TOKEN", "SECRET_KEY", "PRIVATE_KEY", "DB_PASSWORD",
    "GOOGLE_APPLICATION_CREDENTIALS", "SSH_AUTH_SOCK",
)
"""Names a glob is tried against to tell an admin that it asks for secrets (`*`, `A*`, ...)."""

SLURM_KEYWORDS = ("ALL", "NONE", "NIL")
"""Words `sbatch --export=` may read as keywords rather than names: `--export=PATH,ALL` (any case) exports
everything (Slurm 22.05); NONE, and NIL of some versions, are left out alike."""

_PATTERN = re.compile(r"^[A-Za-z0-9_%*?]+$")
"""What a `job_environment` entry may hold: name characters (`%` for exported bash functions such as
`BASH_FUNC_module%%`) and the wildcards `*` and `?`."""
_NAME = re.compile(r"^[A-Za-z0-9_%]+$")
"""Names that can be listed in `sbatch --export=` as they are: no `,` or `=`, which would change its meaning."""


def _regex(glob: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)


def glob_matches(glob: str, name: str, ignore_case: bool = False) -> bool:
    """`*` is any run of characters, `?` one character, everything else itself."""
    return re.fullmatch(_regex(glob), name, re.IGNORECASE if ignore_case else 0) is not None


def looks_secret(name: str) -> bool:
    """Whether `name` has the shape of a secret's name (GITHUB_*, AWS_*, *TOKEN*, ...), in any case."""
    return any(glob_matches(secret, name, ignore_case=True) for secret in SECRET_PATTERNS)


def passable(name: str) -> bool:
    """Whether a variable of this name may ever reach a job: a plain name, no Slurm keyword, no secret."""
    return bool(_NAME.match(name)) and name.upper() not in SLURM_KEYWORDS and not looks_secret(name)


def select(environment: Mapping[str, str], patterns: Sequence[str]) -> Dict[str, str]:
    """The job's environment: the fixed set (PATH defaulted), then every variable a pattern names."""
    env = {name: environment[name] for name in FIXED if environment.get(name) and passable(name)}
    env.setdefault("PATH", DEFAULT_PATH)
    regexes = [re.compile(_regex(p)) for p in patterns]
    for name in sorted(environment):
        if name not in env and passable(name) and any(r.fullmatch(name) for r in regexes):
            env[name] = environment[name]
    return env


def split_patterns(value: str) -> Tuple[str, ...]:
    """The entries of a `job_environment` value: separated by whitespace (commas work too)."""
    return tuple(p for p in re.split(r"[\s,]+", value) if p)


def pattern_problem(pattern: str) -> Optional[str]:
    """Why `pattern` is no name or glob (an `=`, brackets, ...), or None."""
    if _PATTERN.match(pattern):
        return None
    return "is not a variable name or glob: use letters, digits, '_' and the wildcards '*' and '?'"


def secret_warning(pattern: str) -> Optional[str]:
    """What to tell an admin whose pattern asks for secret-looking names (which are never passed), or None."""
    if looks_secret(pattern):
        return "names secret-looking variables, which are never passed to jobs"
    examples = [name for name in WELL_KNOWN_SECRETS if glob_matches(pattern, name)]
    if examples:
        return f"would match secret-looking names such as {', '.join(examples[:3])}; those are never passed to jobs"
    if pattern.upper() in SLURM_KEYWORDS:
        return ("is a keyword of sbatch --export, so no variable of that name is passed ('*' asks for every "
                "variable that does not look like a secret)")
    return None


def without_export(params: Iterable[str]) -> Tuple[Tuple[str, ...], List[str]]:
    """`params` without sbatch's `--export` (as `--export=X` or `--export X`), and what was taken out:
    the bot decides what jobs see."""
    kept: List[str] = []
    removed: List[str] = []
    items = iter(params)
    for param in items:
        if param == "--export":
            removed.append(f"{param} {next(items, '')}".rstrip())
        elif param.startswith("--export="):
            removed.append(param)
        else:
            kept.append(param)
    return tuple(kept), removed


def export_message(option: str) -> str:
    """The warning for an `--export` a site put into its sbatch options (which are left out)."""
    return (f"{option!r} is left out: the bot decides the jobs' environment, and an exported environment "
            "would hand the bot's secrets (App key, webhook secret, tokens, AWS keys) to PR code")


EXPORT_HINT = "list the variables jobs need in [buildenv] job_environment"
