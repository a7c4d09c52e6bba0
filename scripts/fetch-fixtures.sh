#!/usr/bin/env bash
# Fetch the test fixtures that come from npm: real GitHub webhook payloads (@octokit/webhooks-examples)
# and GitHub's REST OpenAPI description (@octokit/openapi). Only the two files the tests read are kept.
# Idempotent; prints the fixture directory.
set -euo pipefail
DEST=${EESSI_BOT_FIXTURES_DIR:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/fixtures"}
OPENAPI_VERSION=23.0.2
EXAMPLES_VERSION=7.6.1
mkdir -p "$DEST"
if [ -s "$DEST/api.github.com.json" ] && [ -s "$DEST/webhooks-examples.json" ]; then
  echo "$DEST"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "@octokit/openapi@$OPENAPI_VERSION" "@octokit/webhooks-examples@$EXAMPLES_VERSION" >/dev/null )
tar -xzf "$work/octokit-openapi-$OPENAPI_VERSION.tgz" -C "$work" package/generated/api.github.com.json
mv "$work/package/generated/api.github.com.json" "$DEST/api.github.com.json"
tar -xzf "$work/octokit-webhooks-examples-$EXAMPLES_VERSION.tgz" -C "$work" package/api.github.com/index.json
mv "$work/package/api.github.com/index.json" "$DEST/webhooks-examples.json"
echo "$DEST"
