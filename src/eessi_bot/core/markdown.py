"""Safe pieces of GitHub markdown for text that came from users or files."""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")


def code(text: str) -> str:
    """`text` as an inline code span that its own backticks cannot close early."""
    text = text.replace("\n", " ")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """Text for one markdown table cell: one line, `|` escaped, and no HTML comment opened (text from
    result files must not carry a marker like the bot's own hidden ones)."""
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|").replace("<!--", "&lt;!--")


def fenced(text: str, indent: str = "") -> str:
    """`text` in a fenced code block that its own backticks cannot close."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = "\n".join(indent + line for line in text.rstrip().splitlines())
    return f"{indent}{fence}\n{body}\n{indent}{fence}"
