"""Prometheus counters for `/metrics` (text exposition format; names start with `eessi_bot_`)."""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Tuple

Labels = Tuple[Tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: Dict[str, Dict[Labels, float]] = {}
        self._help: Dict[str, str] = {}
        self._gauges: List[Tuple[str, str, Callable[[], Dict[Labels, float]]]] = []

    def counter(self, name: str, help_text: str) -> None:
        with self._lock:
            self._counters.setdefault(name, {})
            self._help[name] = help_text

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def gauge(self, name: str, help_text: str, read: Callable[[], Dict[Labels, float]]) -> None:
        """A value read when scraped (e.g. inbox sizes from the database)."""
        self._gauges.append((name, help_text, read))

    def render(self) -> str:
        lines: List[str] = []
        with self._lock:
            counters = {name: dict(series) for name, series in self._counters.items()}
        for name, series in sorted(counters.items()):
            lines += [f"# HELP {name} {self._help.get(name, name)}", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(key)} {value:g}" for key, value in sorted(series.items())]
        for name, help_text, read in self._gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(key)} {value:g}" for key, value in sorted(read().items())]
        return "\n".join(lines) + "\n"


def _labels(key: Labels) -> str:
    if not key:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
