"""Logging set-up: text or JSON lines, every record carrying the delivery or job id it is about."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

_CONTEXT_FIELDS = ("delivery_id", "job_id")


class _ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{name}={getattr(record, name)}" for name in _CONTEXT_FIELDS
                           if getattr(record, name, None))
        record.context = f" [{context}]" if context else ""
        return super().format(record)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            if getattr(record, name, None):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def setup_logging(fmt: str = "text", path: Optional[Path] = None, level: int = logging.INFO) -> None:
    formatter: logging.Formatter = (
        _JsonFormatter() if fmt == "json"
        else _ContextFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s%(context)s: %(message)s")
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "github", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
