"""Check JSON bodies against GitHub's own REST OpenAPI description, so the fakes cannot drift from GitHub.

The 13 MB spec is parsed once per path and process; validators are built lazily and cached per
(path template, method, status), which keeps validating every response of a test run cheap.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Tuple, Union

from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.fakes.fixtures import openapi_spec_path

JSON = Dict[str, Any]
_URN = "urn:github-rest-openapi"
_MEDIA_TYPE = "application/json"

_specs: Dict[Path, JSON] = {}
_specs_lock = threading.Lock()


def _allow_null_in_nullable_enums(node: Any) -> None:
    """GitHub's spec pairs `nullable: true` with enums lacking null (e.g. check-run `conclusion`), and
    OAS30Validator then rejects the null GitHub really sends; add None to such enums."""
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
        for value in node.values():
            _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_in_nullable_enums(value)


def load_spec(spec_path: Path) -> JSON:
    """The patched spec, parsed once per resolved path (shared: treat it as read-only)."""
    key = spec_path.resolve()
    with _specs_lock:
        if key not in _specs:
            with key.open(encoding="utf-8") as handle:
                spec: JSON = json.load(handle)
            _allow_null_in_nullable_enums(spec)
            _specs[key] = spec
        return _specs[key]


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _template_regex(template: str) -> Pattern[str]:
    parts = (
        r"[^/]+" if re.fullmatch(r"\{[^}]+\}", part) else re.escape(part) for part in template.split("/")
    )
    return re.compile("/".join(parts))


class GitHubSchema:
    """Validates response bodies against `paths[template][method].responses[status]` of the spec."""

    def __init__(self, spec_path: Optional[Path] = None) -> None:
        self.spec = load_spec(spec_path or openapi_spec_path())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self._registry = Registry().with_resource(_URN, resource)
        self._validators: Dict[Tuple[str, str, str], Any] = {}
        self._routes: Dict[str, List[Tuple[Tuple[bool, ...], Pattern[str], str]]] = {}
        self._lock = threading.Lock()

    def match(self, method: str, path: str) -> Optional[str]:
        """The documented path template for a concrete request path, preferring literal segments
        (as GitHub's router does: `/issues/comments/{id}` wins over `/issues/{issue_number}`)."""
        routes = self._routes_for(method.lower())
        for _, regex, template in routes:
            if regex.fullmatch(path):
                return template
        return None

    def errors(self, path_template: str, method: str, status: Union[int, str], body: Any) -> List[str]:
        """Human-readable problems with `body` as the response of one operation; [] when it conforms."""
        method = method.lower()
        operation = self.spec["paths"].get(path_template, {}).get(method)
        if operation is None:
            return [f"{method.upper()} {path_template} is not a documented operation"]
        if str(status) not in operation.get("responses", {}):
            return [f"status {status} is not documented for {method.upper()} {path_template}"]
        validator = self._validator(path_template, method, str(status))
        if validator is None:
            return (
                [] if body is None else [f"{method.upper()} {path_template} {status} documents no JSON body"]
            )
        problems = sorted(validator.iter_errors(body), key=lambda error: list(map(str, error.absolute_path)))
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}" for error in problems
        ]

    def _routes_for(self, method: str) -> List[Tuple[Tuple[bool, ...], Pattern[str], str]]:
        with self._lock:
            if method not in self._routes:
                routes = [
                    (
                        tuple(part.startswith("{") for part in template.split("/")),
                        _template_regex(template),
                        template,
                    )
                    for template, item in self.spec["paths"].items()
                    if method in item
                ]
                routes.sort(key=lambda route: route[0])
                self._routes[method] = routes
            return self._routes[method]

    def _validator(self, template: str, method: str, status: str) -> Any:
        key = (template, method, status)
        with self._lock:
            if key not in self._validators:
                self._validators[key] = self._build_validator(template, method, status)
            return self._validators[key]

    def _build_validator(self, template: str, method: str, status: str) -> Any:
        response = self.spec["paths"][template][method]["responses"][status]
        pointer = f"/paths/{_pointer_escape(template)}/{method}/responses/{status}"
        while "$ref" in response:
            pointer = response["$ref"][1:]
            response = self._resolve(pointer)
        if _MEDIA_TYPE not in response.get("content", {}):
            return None
        schema_ref = f"{_URN}#{pointer}/content/{_pointer_escape(_MEDIA_TYPE)}/schema"
        return OAS30Validator(
            {"$ref": schema_ref}, registry=self._registry, format_checker=oas30_format_checker
        )

    def _resolve(self, pointer: str) -> JSON:
        node: Any = self.spec
        for token in pointer.lstrip("/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        if not isinstance(node, dict):
            raise TypeError(f"{pointer} does not point at an object in the spec")
        return node
