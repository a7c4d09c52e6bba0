"""Log lines name the delivery (or job) they are about, in text and in JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from eessi_bot.service.logs import setup_logging


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_delivery_id_in_every_line(tmp_path: Path, fmt: str) -> None:
    log_file = tmp_path / "bot.log"
    setup_logging(fmt, log_file)
    try:
        logger = logging.LoggerAdapter(logging.getLogger("eessi_bot.test"), {"delivery_id": "d-42"})
        logger.info("handled %s", "help")
        logging.getLogger("eessi_bot.test").warning("no context")
    finally:
        setup_logging("text", None)
    first, second = log_file.read_text().splitlines()
    if fmt == "json":
        assert json.loads(first)["delivery_id"] == "d-42" and json.loads(first)["message"] == "handled help"
        assert "delivery_id" not in json.loads(second)
    else:
        assert "[delivery_id=d-42]: handled help" in first
        assert "[delivery_id" not in second
