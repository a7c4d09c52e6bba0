"""`repos_cfg_dir/repos.cfg`: the repositories (CernVM-FS targets) jobs can build for."""

from __future__ import annotations

import configparser
import json
from typing import Dict, List, Tuple

from eessi_bot.core.config.json_mistakes import explain
from eessi_bot.core.config.layout import Layout, locate
from eessi_bot.core.config.model import RepoDefinition
from eessi_bot.core.config.problems import Problem, Severity

_FIELDS = ("repo_name", "repo_version", "config_bundle", "config_map", "container")
LEGACY_REPO_IDS = ("EESSI", "EESSI-pilot")
"""Accepted without a repos.cfg entry, as the EESSI bot does: the build container's default repository."""


def parse_repos_cfg(text: str, file: str) -> Tuple[Dict[str, RepoDefinition], List[Problem]]:
    """Every section becomes a RepoDefinition; problems name the file, section and line."""
    problems: List[Problem] = []

    def error(section: str, key: str, message: str) -> None:
        problems.append(Problem(Severity.ERROR, section, key, message, file=file))

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=file)
    except configparser.Error as exc:
        error("", "", f"cannot be parsed: {exc}")
        return {}, problems
    layout = Layout(text)
    repos: Dict[str, RepoDefinition] = {}
    for section in parser.sections():
        values = {k: parser.get(section, k).strip() for k in _FIELDS if parser.has_option(section, k)}
        config_map: Dict[str, str] = {}
        raw_map = values.pop("config_map", "")
        if raw_map:
            try:
                loaded = json.loads(raw_map)
            except json.JSONDecodeError as exc:
                mistake = explain(exc)
                place = layout.value_position(section, "config_map", raw_map, mistake.line, mistake.column)
                problems.append(Problem(Severity.ERROR, section, "config_map", f"is not valid JSON: {mistake.message}",
                                        file=file, line=place.number if place else None,
                                        column=place.start + 1 if place else None,
                                        excerpt=place.text if place else None))
                loaded = {}
            if not isinstance(loaded, dict):
                error(section, "config_map", "must be a JSON object of bundle entry -> path in the container")
                loaded = {}
            config_map = {str(k): str(v) for k, v in loaded.items()}
        repos[section] = RepoDefinition(repo_id=section, config_map=config_map, **values)
    if not repos:
        problems.append(Problem(Severity.WARNING, "", "", "defines no repositories", file=file))
    return repos, locate(problems, layout)
