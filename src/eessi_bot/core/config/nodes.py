"""`[architecturetargets] node_type_map`: the node types this site builds on."""

from __future__ import annotations

import re
import shlex
from typing import Any, List, Optional, Tuple

from eessi_bot.core.config.model import NodeType
from eessi_bot.core.config.reader import Reader
from eessi_bot.core.job_env import EXPORT_HINT, export_message, without_export

SECTION = "architecturetargets"
KEY = "node_type_map"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.+-]+$")
_KNOWN_FIELDS = {"os", "cpu_subdir", "slurm_params", "repo_targets", "accel"}
EXAMPLE = (
    '{"cpu_zen2": {"os": "linux", "cpu_subdir": "x86_64/amd/zen2", '
    '"slurm_params": "-p zen2", "repo_targets": ["eessi.io-2023.06-software"]}}'
)


def valid_subdir(value: str) -> bool:
    """A relative path of plain segments (`x86_64/amd/zen2`, `nvidia/cc90`): safe to use in job paths."""
    parts = value.split("/")
    return all(_SEGMENT.match(p) and p not in (".", "..") for p in parts)


def parse_node_types(reader: Reader) -> Tuple[NodeType, ...]:
    """Node types in file order; each broken entry is reported and left out."""
    data = reader.json_value(SECTION, KEY)
    if data is None:
        if reader.raw(SECTION, KEY) in (None, ""):
            reader.error(SECTION, KEY, "is required but missing", hint="for example: " + EXAMPLE)
        return ()
    if not isinstance(data, dict) or not data:
        reader.error(SECTION, KEY, "must be a non-empty JSON object of node type name -> settings",
                     hint="for example: " + EXAMPLE)
        return ()
    node_types: List[NodeType] = []
    for name, info in data.items():
        node = _parse_one(reader, str(name), info)
        if node is not None:
            node_types.append(node)
    return tuple(node_types)


def _parse_one(reader: Reader, name: str, info: Any) -> Optional[NodeType]:
    where = f"node type '{name}'"
    if not isinstance(info, dict):
        reader.error(SECTION, KEY, f"{where} must be a JSON object", hint="for example: " + EXAMPLE)
        return None
    ok = True
    for extra in sorted(set(info) - _KNOWN_FIELDS):
        reader.note(SECTION, KEY, f"{where}: unknown field '{extra}' ignored")
    cpu_subdir = info.get("cpu_subdir")
    if not isinstance(cpu_subdir, str) or not cpu_subdir:
        reader.error(SECTION, KEY, f"{where} needs \"cpu_subdir\" (like \"x86_64/amd/zen2\")")
        ok = False
    elif not valid_subdir(cpu_subdir):
        reader.error(SECTION, KEY, f"{where}: cpu_subdir {cpu_subdir!r} must be a relative path of "
                     "letters, digits, '_', '.', '+' and '-' segments")
        ok = False
    os_name = info.get("os", "linux")
    if not isinstance(os_name, str) or not os_name:
        reader.error(SECTION, KEY, f"{where}: \"os\" must be a non-empty string")
        ok = False
    repo_targets = info.get("repo_targets")
    if not isinstance(repo_targets, list) or not all(isinstance(r, str) and r for r in repo_targets):
        reader.error(SECTION, KEY, f"{where} needs \"repo_targets\": a list of repository ids from repos.cfg")
        ok = False
    elif not repo_targets:
        reader.warn(SECTION, KEY, f"{where} has no repo_targets, so no job can ever run on it")
    params = _slurm_params(reader, where, info.get("slurm_params", ""))
    accel = info.get("accel")
    if accel is not None and (not isinstance(accel, str) or not accel):
        reader.error(SECTION, KEY, f"{where}: \"accel\" must be a string like \"nvidia/cc90\"")
        ok = False
    elif accel == "None":
        reader.note(SECTION, KEY, f"{where} has accel \"None\": only commands with an accelerator filter "
                    "matching 'None' (e.g. on:arch=...,accel=None) reach it, as in the EESSI bot")
    elif isinstance(accel, str) and not valid_subdir(accel):
        reader.error(SECTION, KEY, f"{where}: accel {accel!r} must look like \"nvidia/cc90\"")
        ok = False
    if not ok or params is None:
        return None
    assert isinstance(cpu_subdir, str) and isinstance(os_name, str) and isinstance(repo_targets, list)
    return NodeType(name=name, os=os_name, cpu_subdir=cpu_subdir, slurm_params=params,
                    repo_targets=tuple(repo_targets), accel=accel)


def _slurm_params(reader: Reader, where: str, value: Any) -> Optional[Tuple[str, ...]]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        params = tuple(value)
    elif not isinstance(value, str):
        reader.error(SECTION, KEY, f"{where}: \"slurm_params\" must be a string of sbatch options")
        return None
    else:
        try:
            params = tuple(shlex.split(value))
        except ValueError as exc:
            reader.error(SECTION, KEY, f"{where}: \"slurm_params\" cannot be split into arguments: {exc}")
            return None
    if "--hold" in params:
        reader.note(SECTION, KEY, f"{where}: '--hold' is left out; the bot holds jobs itself when "
                    "job_handover_protocol is hold_release")
    kept, removed = without_export(p for p in params if p != "--hold")
    for option in removed:
        reader.warn(SECTION, KEY, f"{where}: {export_message(option)}", hint=EXPORT_HINT)
    return kept
