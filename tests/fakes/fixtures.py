"""Where the npm-sourced test fixtures live, with one clear error when they have not been fetched."""

from __future__ import annotations

import os
from pathlib import Path

OPENAPI_FILE = "api.github.com.json"
WEBHOOK_EXAMPLES_FILE = "webhooks-examples.json"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """The fixture directory: $EESSI_BOT_FIXTURES_DIR or <repo>/.cache/fixtures; both files must exist."""
    configured = os.environ.get("EESSI_BOT_FIXTURES_DIR")
    directory = Path(configured) if configured else _REPO_ROOT / ".cache" / "fixtures"
    missing = [name for name in (OPENAPI_FILE, WEBHOOK_EXAMPLES_FILE) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"test fixtures {', '.join(missing)} not found in {directory}; "
            "run scripts/fetch-fixtures.sh (needs npm), "
            "or point EESSI_BOT_FIXTURES_DIR at a directory that holds them"
        )
    return directory


def openapi_spec_path() -> Path:
    """GitHub's REST OpenAPI description (npm @octokit/openapi, generated/api.github.com.json)."""
    return fixtures_dir() / OPENAPI_FILE


def webhook_examples_path() -> Path:
    """Real webhook payloads (npm @octokit/webhooks-examples, api.github.com/index.json)."""
    return fixtures_dir() / WEBHOOK_EXAMPLES_FILE
