"""Permission lists: which entries can be GitHub logins, and what to write instead of those that cannot.

A permission list is compared with `sender.login` word by word, so an entry that cannot be a login
(`maintainer,`, `@alice`, `alice;bob`) silently refuses the person it was meant for. The mistakes
that show a wrong list format (commas, semicolons, `@`, quotes, a JSON list, an e-mail address,
characters no login has) are errors. An entry of login characters that still cannot be a login
(`-NOT_ALLOWED_GH_ACCOUNT_NAME-`, the "nobody" placeholder of the EESSI bot's app.cfg.example, a
double hyphen, more than 39 characters) is a warning: it allows nobody, which is what such a
placeholder is meant to do.

Accepted: GitHub.com logins (letters, digits, single hyphens not at either end, at most 39
characters), Enterprise Managed User logins (`handle_shortcode`), and GitHub App bot accounts
(`name[bot]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List

_HANDLE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_SHORTCODE = re.compile(r"[A-Za-z0-9]+")
_APP_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_LOGIN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_Adder = Callable[[str, str], None]

LOGIN_RULE = ("a GitHub login is letters, digits and single hyphens, not at either end, at most 39 "
              "characters; a GitHub App's account is name[bot]")


@dataclass(frozen=True)
class LoginProblem:
    """One kind of mistake in a permission list, with the entries that show it."""

    error: bool
    message: str
    hint: str = ""


def is_login(entry: str) -> bool:
    """True when `entry` can be the login of a GitHub account (a person's or an App's bot)."""
    if entry.endswith("[bot]"):
        return bool(_APP_NAME.fullmatch(entry[:-5]))
    handle, underscore, shortcode = entry.partition("_")
    if underscore and not _SHORTCODE.fullmatch(shortcode):
        return False
    return len(handle) <= 39 and bool(_HANDLE.fullmatch(handle))


def login_problems(value: str) -> List[LoginProblem]:
    """The mistakes in a whitespace-separated list of logins, each kind once, naming its entries."""
    text = value.strip()
    found: Dict[str, List[str]] = {}

    def add(kind: str, entry: str) -> None:
        found.setdefault(kind, [])
        if entry not in found[kind]:
            found[kind].append(entry)

    if len(text) >= 2 and text[0] == "[" and text[-1] == "]" and not is_login(text):
        add("list", text)
        text = text[1:-1]
    for entry in text.split():
        if entry == "*" or is_login(entry):
            continue
        for separator, kind in ((",", "commas"), (";", "semicolons")):
            if separator in entry:
                add(kind, entry)
        for part in re.split(r"[,;]", entry):
            _check_part(part, add)
    fixed = " ".join(_cleaned(text))
    return [_describe(kind, entries, fixed) for kind, entries in found.items()]


def _check_part(part: str, add: _Adder) -> None:
    if not part or part == "*" or is_login(part):
        return
    bare = part.strip("\"'`")
    if bare != part:
        add("quotes", part)
    if bare.startswith("@"):
        add("at", bare)
        bare = bare[1:]
    if not bare or is_login(bare):
        return
    if _EMAIL.fullmatch(bare):
        add("email", bare)
    elif _LOGIN_CHARS.fullmatch(bare):
        add("never", bare)
    else:
        add("chars", bare)


def _cleaned(text: str) -> List[str]:
    """The logins meant by a mistaken list: separators split, quotes and a leading @ dropped."""
    parts = (p.strip("\"'`") for p in re.split(r"[\s,;]+", text))
    return [p[1:] if p.startswith("@") and not _EMAIL.fullmatch(p) else p for p in parts if p]


def _describe(kind: str, entries: List[str], fixed: str) -> LoginProblem:
    names = " ".join(f"`{e}`" for e in entries)
    several = len(entries) > 1
    if kind == "list":
        return LoginProblem(True, f"logins are separated by spaces, not written as a list: `{fixed}`")
    if kind in ("commas", "semicolons"):
        return LoginProblem(True, f"{names}: logins are separated by spaces, not {kind}: `{fixed}`")
    if kind == "at":
        return LoginProblem(True, f"{names}: write the login{'s' if several else ''} without @: `{fixed}`")
    if kind == "quotes":
        return LoginProblem(True, f"{names}: write the login{'s' if several else ''} without quotes: `{fixed}`")
    if kind == "email":
        return LoginProblem(True, f"{names}: {'are e-mail addresses' if several else 'is an e-mail address'}, "
                            "not GitHub logins", "write the GitHub login shown on the person's profile page")
    if kind == "chars":
        return LoginProblem(True, f"{names}: cannot be a GitHub login", LOGIN_RULE)
    return LoginProblem(False, f"{names}: cannot be a GitHub login, so {'they allow' if several else 'it allows'} "
                        "nobody", LOGIN_RULE + "; leave the value empty to allow nobody")

