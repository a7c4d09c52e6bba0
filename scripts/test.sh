#!/usr/bin/env bash
# The project's test command (see README): installs what the tests need on a bare Debian 12 machine
# (apt as root, a venv with pip, npm fixtures), then runs ruff, mypy and pytest with branch coverage of
# eessi_bot (per-file figures with the missing lines at the end; [tool.coverage] in pyproject.toml).
# Extra arguments go to pytest, e.g. scripts/test.sh -k config -x   (--no-cov turns coverage off)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v git >/dev/null || missing+=(git)
command -v npm >/dev/null || missing+=(npm)
command -v sbatch >/dev/null || missing+=(slurm-client)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)   # signing deployed files (ssh-keygen -Y sign)
command -v bwrap >/dev/null || missing+=(bubblewrap)   # job_sandbox = bwrap (the sandbox tests run it)
command -v chromedriver >/dev/null || missing+=(chromium chromium-driver)   # the status page's browser test (Selenium)
command -v systemd-analyze >/dev/null || missing+=(systemd)   # `systemd-analyze verify` of contrib/systemd's units
"${PYTHON:-python3}" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: please install (as root): ${missing[*]}" >&2; exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
mkdir -p .cache
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' >.cache/pip.log 2>&1; then
  cat .cache/pip.log >&2; exit 1
fi
scripts/fetch-fixtures.sh >/dev/null

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache >.cache/lint-imports.log 2>&1 || { cat .cache/lint-imports.log >&2; exit 1; }
grep -E "KEPT|BROKEN" .cache/lint-imports.log
# As root: a real single-machine Slurm (scripts/slurm-up.sh); EESSI_BOT_SLURM=1 makes the Slurm tests fail,
# not skip, if it is not there. Not root: no Slurm is started and those tests skip.
if [ "$(id -u)" = 0 ]; then
  if ! scripts/slurm-up.sh >.cache/slurm-up.log 2>&1; then
    cat .cache/slurm-up.log >&2; echo "test.sh: scripts/slurm-up.sh failed" >&2; exit 1
  fi
  export EESSI_BOT_SLURM=1
fi
# A real S3 server, SeaweedFS on loopback (scripts/s3-up.sh, no root needed). EESSI_BOT_S3=1 makes the S3
# tests fail, not skip, if it does not answer. Its endpoint goes to EESSI_BOT_S3_ENDPOINT only, and
# AWS_ENDPOINT_URL is unset: the bot must take the endpoint from its configuration, not from boto3's
# environment, or the tests fail.
if ! scripts/s3-up.sh >.cache/s3.env 2>.cache/s3-up.log; then
  cat .cache/s3-up.log >&2; echo "test.sh: scripts/s3-up.sh failed" >&2; exit 1
fi
# shellcheck source=/dev/null
. .cache/s3.env
export EESSI_BOT_S3=1
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
exec .venv/bin/pytest --cov=eessi_bot --cov-branch --cov-report=term-missing:skip-covered "$@"
