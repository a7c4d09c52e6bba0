"""Long result descriptions in the format of EESSI's `bot/check-build.sh`, for the tests of shortening,
and an independent check that HTML is balanced.

A successful build lists its tarball's modules, software and other files, each
in a `<pre>` inside `<details>` inside `<dl>` inside the outer `<details>`; one module adds about 75
characters, so 150 modules make about 12,000.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import List, Optional, Tuple

from eessi_bot.core.html_text import VOID_ELEMENTS
from eessi_bot.core.markdown import cell

TARBALL = "eessi-2023.06-software-linux-x86_64-amd-zen2-1756375200.tar.gz"
PREFIX = "2023.06/software/linux/x86_64/amd/zen2"


def _pre(title: str, items: List[str]) -> str:
    return f"{title} under _{PREFIX}/{title}_<br/><pre>" + "".join(f"<code>{i}</code><br/>" for i in items) + "</pre>"


def check_build_description(modules: int, status: str = "SUCCESS") -> str:
    """What EESSI's check-build.sh writes as `comment_description` for a tarball of `modules` modules."""
    summary = ":grin: SUCCESS" if status == "SUCCESS" else ":cry: FAILURE"
    mark = ":white_check_mark:" if status == "SUCCESS" else ":x:"
    names = [f"Package{n:03d}/{n % 7}.{n % 5}.{n % 3}" for n in range(modules)]
    details = "".join(f"{mark} {what}<br/>" for what in (
        "job output file <code>slurm-1234567.out</code>", "no message matching <code>FATAL: </code>",
        "no message matching <code>ERROR: </code>", "no message matching <code>FAILED: </code>",
        "no message matching <code> required modules missing:</code>",
        "found message(s) matching <code>No missing installations</code>"))
    artefact = (f"<details><summary><code>{TARBALL}</code></summary>size: 234 MiB (245366784 bytes)<br/>"
                f"entries: {modules * 40}<br/>" + _pre("modules", [f"{n}.lua" for n in names])
                + _pre("software", names)
                + _pre("other", [".lmod/cache/spiderT.lua", ".lmod/cache/timestamp"]) + "</details>")
    return (f"<details><summary>{summary} _(click triangle for details)_</summary><dl>"
            f"<dt>_Details_</dt><dd>{details}</dd><dt>_Artefacts_</dt><dd>{artefact}</dd></dl></details>")


def result_file(description: str, status: str = "SUCCESS", section: str = "RESULT") -> bytes:
    artefacts = f"artefacts =\n    {TARBALL}\n" if section == "RESULT" and status == "SUCCESS" else ""
    return f"[{section}]\ncomment_description = {description}\nstatus = {status}\n{artefacts}".encode()


class _Balance(HTMLParser):
    """The standard library's reader: every end tag closes the innermost open element, none is left open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: List[str] = []
        self.ok = True

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


_ESCAPED = re.compile(r"\\.", re.DOTALL)


def balanced(text: str) -> bool:
    """Whether `text` is balanced as GitHub reads it in a table cell: `<!--` shown as text, a backslash
    making the next character plain (`\\<b>` is no tag). Entities are left out (the standard library's
    reader takes `&#</b>` for one, a browser does not). It knows no markdown code spans: cases that
    have some check them otherwise."""
    reader = _Balance()
    reader.feed(_ESCAPED.sub("x", cell(text)).replace("&", "x"))
    reader.close()
    return reader.ok and not reader.stack
