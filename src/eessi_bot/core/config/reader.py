"""Typed access to an INI file that records problems instead of stopping at the first one."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import string
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Set, Tuple

from eessi_bot.core.config.json_mistakes import explain
from eessi_bot.core.config.layout import Layout
from eessi_bot.core.config.logins import login_problems
from eessi_bot.core.config.model import Permission
from eessi_bot.core.config.problems import Problem, Severity
from eessi_bot.core.config.typos import did_you_mean, near_misses

_UNEXPANDED = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


class Reader:
    """Reads `[section] key` values with a type, a default and a place to put problems."""

    def __init__(self, parser: configparser.ConfigParser, env: Mapping[str, str],
                 layout: Optional[Layout] = None) -> None:
        self.parser = parser
        self.env = env
        self.layout = layout
        self.problems: list[Problem] = []
        self.seen: Set[Tuple[str, str]] = set()

    # -- recording -------------------------------------------------------------------------
    def problem(
        self,
        severity: Severity,
        section: str,
        key: str,
        message: str,
        value: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.problems.append(Problem(severity, section, key, message, value, hint))

    def error(self, section: str, key: str, message: str, value: Optional[str] = None,
              hint: Optional[str] = None) -> None:
        self.problem(Severity.ERROR, section, key, message, value, hint)

    def warn(self, section: str, key: str, message: str, value: Optional[str] = None,
             hint: Optional[str] = None) -> None:
        self.problem(Severity.WARNING, section, key, message, value, hint)

    def note(self, section: str, key: str, message: str, value: Optional[str] = None,
             hint: Optional[str] = None) -> None:
        self.problem(Severity.NOTE, section, key, message, value, hint)

    # -- raw access ------------------------------------------------------------------------
    def raw(self, section: str, key: str) -> Optional[str]:
        """The value as written (interpolated, stripped, outer quotes removed), or None if absent."""
        self.seen.add((section, key))
        if not self.parser.has_option(section, key):
            return None
        try:
            value = self.parser.get(section, key)
        except (configparser.InterpolationError, ValueError) as exc:
            raw = self.parser.get(section, key, raw=True)
            self.error(section, key, f"cannot interpolate the value: {exc}", raw,
                       "write a literal '%' as '%%'")
            return None
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            self.warn(section, key, "surrounding quotes are not part of the value; they were removed",
                      value, "write the value without quotes")
            value = value[1:-1].strip()
        return value

    def text(self, section: str, key: str, default: str = "", required: bool = False,
             hint: Optional[str] = None) -> str:
        value = self.raw(section, key)
        if value is None or value == "":
            if required:
                self.error(section, key, "is required but missing" if value is None else "is empty",
                           value, hint)
            return default
        return value

    def integer(self, section: str, key: str, default: int, minimum: Optional[int] = None,
                required: bool = False, hint: Optional[str] = None) -> int:
        value = self.raw(section, key)
        if value is None or value == "":
            if required:
                self.error(section, key, "is required but missing", value, hint)
            return default
        try:
            number = int(value)
        except ValueError:
            self.error(section, key, "must be a whole number", value, hint)
            return default
        if minimum is not None and number < minimum:
            self.error(section, key, f"must be at least {minimum}", value, hint)
            return default
        return number

    def number(self, section: str, key: str, default: float, minimum: float = 0.0) -> float:
        value = self.raw(section, key)
        if value is None or value == "":
            return default
        try:
            result = float(value)
        except ValueError:
            self.error(section, key, "must be a number", value)
            return default
        if result < minimum:
            self.error(section, key, f"must be at least {minimum:g}", value)
            return default
        return result

    def boolean(self, section: str, key: str, default: bool) -> bool:
        value = self.raw(section, key)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in configparser.ConfigParser.BOOLEAN_STATES:
            return configparser.ConfigParser.BOOLEAN_STATES[lowered]
        self.error(section, key, "must be true or false", value)
        return default

    def choice(self, section: str, key: str, choices: Sequence[str], default: str) -> str:
        value = self.raw(section, key)
        if value is None or value == "":
            return default
        if value.lower() not in choices:
            self.error(section, key, "is not one of " + ", ".join(choices), value)
            return default
        return value.lower()

    def json_value(self, section: str, key: str) -> Any:
        """Parsed JSON, or None when absent/empty or invalid (then an error is recorded)."""
        value = self.raw(section, key)
        if value is None or value == "":
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            self._json_error(section, key, value, exc)
            return None

    def _json_error(self, section: str, key: str, value: str, exc: json.JSONDecodeError) -> None:
        """The JSON mistake at its line and column of the file, with that line and a caret under it."""
        mistake = explain(exc)
        place = self.layout.value_position(section, key, value, mistake.line, mistake.column) if self.layout else None
        if place is None:
            self.error(section, key, f"is not valid JSON: {mistake.message} (line {mistake.line} column "
                       f"{mistake.column} of the value)")
            return
        self.problems.append(Problem(Severity.ERROR, section, key, f"is not valid JSON: {mistake.message}",
                                     line=place.number, column=place.start + 1, excerpt=place.text))

    def path(self, section: str, key: str, default: Optional[str] = None, required: bool = False,
             hint: Optional[str] = None) -> Optional[Path]:
        """A path on the bot's machine: `~` and `$VAR` are expanded here (the EESSI bot did not)."""
        value = self.raw(section, key)
        if value is None or value == "":
            if required:
                self.error(section, key, "is required but missing" if value is None else "is empty",
                           value, hint)
                return None
            if default is None:
                return None
            value = default
        return self.expand_path(section, key, value)

    def expand_path(self, section: str, key: str, value: str) -> Optional[Path]:
        expanded = self._expand_vars(value)
        unresolved = _UNEXPANDED.search(expanded)
        if unresolved:
            self.error(section, key, f"uses {unresolved.group(0)}, which is not set in the environment",
                       value, "set the variable or write the full path")
            return None
        if expanded.startswith("~"):
            home = self.env.get("HOME", "")
            if not home:
                self.error(section, key, "starts with '~' but HOME is not set", value)
                return None
            expanded = home + expanded[1:]
        path = Path(expanded)
        if not path.is_absolute():
            self.error(section, key, "must be an absolute path", value)
            return None
        return path

    def _expand_vars(self, value: str) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return self.env.get(name, match.group(0))

        return re.sub(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", repl, value)

    def permission(self, section: str, key: str, warn_empty: bool = True) -> Permission:
        """A list of GitHub logins; entries that cannot be logins are errors (or warnings), see `logins`."""
        value = self.raw(section, key)
        for mistake in login_problems(value or ""):
            self.problem(Severity.ERROR if mistake.error else Severity.WARNING, section, key, mistake.message,
                         value, mistake.hint or None)
        logins = frozenset((value or "").split())
        if "*" in logins:
            if len(logins) > 1:
                self.note(section, key, "'*' allows everyone; the other logins listed make no difference",
                          value)
            return Permission(everyone=True)
        if not logins and warn_empty:
            self.warn(section, key, "is empty or missing, so nobody is allowed", value,
                      "list GitHub logins separated by spaces, or '*' to allow everyone")
        return Permission(logins=logins)

    def split_args(self, section: str, key: str, value: str) -> Tuple[str, ...]:
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            self.error(section, key, f"cannot be split into arguments: {exc}", value)
            return ()

    def template(self, section: str, key: str, default: str, fields: Sequence[str],
                 required_fields: Sequence[str] = ()) -> str:
        value = self.raw(section, key)
        if value is None or value == "":
            return default
        used = template_fields(value)
        if used is None:
            self.error(section, key, "is not a valid template (unbalanced '{' or '}')", value,
                       "write a literal brace as '{{' or '}}'")
            return default
        unknown = sorted(set(used) - set(fields))
        if unknown:
            allowed = ", ".join("{" + f + "}" for f in fields) or "none"
            self.error(section, key, "uses unknown placeholder(s) " + ", ".join("{" + u + "}" for u in unknown),
                       value, f"allowed: {allowed}")
            return default
        missing = [f for f in required_fields if f not in used]
        if missing:
            self.warn(section, key, "does not use " + ", ".join("{" + m + "}" for m in missing)
                      + "; that information will not be shown", value)
        return value

    def unknown_keys(self, known_sections: Sequence[str], not_suggested: Set[Tuple[str, str]]) -> None:
        """Keys and sections this bot does not read: a near miss of a known one (see `typos`) is an
        error, since the setting meant would silently keep its default; anything else is noted and
        ignored (sites keep settings of other tools in app.cfg). Keys in `not_suggested` (removed or
        retired ones) are known but never offered as "did you mean"."""
        for section in self.parser.sections():
            if section not in known_sections:
                close = near_misses(section, known_sections)
                if close:
                    self.error(section, "", "unknown section; " + did_you_mean(close, brackets=True),
                               hint="the settings in it are ignored as written")
                else:
                    self.note(section, "", "unknown section, ignored")
                continue
            known = {k for s, k in self.seen if s == section and (s, k) not in not_suggested}
            for key in self.parser.options(section):
                if (section, key) in self.seen or key in self.parser.defaults():
                    continue
                close = near_misses(key, known)
                if close:
                    self.error(section, key, "unknown key; " + did_you_mean(close),
                               hint="as written it is ignored and the setting meant keeps its default")
                else:
                    self.note(section, key, "unknown key, ignored")


def template_fields(template: str) -> Optional[list[str]]:
    """Placeholder names used by a `str.format` template, or None if it is malformed.

    Attribute and index access (`{a.b}`, `{a[0]}`) count as unknown names so they are refused.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    return [name for _, name, _, _ in parsed if name is not None]
