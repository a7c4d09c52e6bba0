#!/usr/bin/env bash
# The demo (see README): install eessi-bot into a venv and run `eessi-bot demo`, which needs no
# GitHub, no network and no configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-demo
[ -x $VENV/bin/python ] || "${PYTHON:-python3}" -m venv $VENV
mkdir -p .cache
if ! $VENV/bin/python -m pip install -q --disable-pip-version-check . >.cache/pip-demo.log 2>&1; then
  cat .cache/pip-demo.log >&2; exit 1
fi
exec $VENV/bin/eessi-bot demo
