"""Reads a Pulumi project and stack file the way the CLI hands config to a program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(Exception):
    """The project or stack file is missing or malformed; the message names the file and key."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    project: str
    stack: str
    # Flat "namespace:key" -> string value, exactly as the CLI passes PULUMI_CONFIG to a program.
    values: dict[str, str]
    secret_keys: tuple[str, ...]


def placeholder_secret(key: str) -> str:
    """Stand-in for a `secure:` value: the offline run has no secrets provider to decrypt with."""
    return f"offline-placeholder-{key.replace(':', '-')}"


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StackConfigError(f"{path}: not valid YAML: {exc}") from None


def _stringify(key: str, value: Any, secret_keys: set[str]) -> str:
    """The CLI serialises every config value to a string: scalars as text, objects as JSON."""

    def unwrap(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"secure"}:
            secret_keys.add(key)
            return placeholder_secret(key)
        if isinstance(node, dict):
            return {k: unwrap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [unwrap(v) for v in node]
        return node

    plain = unwrap(value)
    if isinstance(plain, str):
        return plain
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, (int, float)):
        return str(plain)
    return json.dumps(plain)


def available_stacks(program_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in program_dir.glob("Pulumi.*.yaml"))


def load_stack_config(program_dir: Path, stack: str) -> StackConfig:
    project_file = program_dir / "Pulumi.yaml"
    if not project_file.is_file():
        raise StackConfigError(f"{program_dir}: no Pulumi.yaml, so this is not a Pulumi project directory")
    project_doc = _load_yaml(project_file)
    if not isinstance(project_doc, dict) or not isinstance(project_doc.get("name"), str):
        raise StackConfigError(f"{project_file}: key 'name' must name the project")
    project = project_doc["name"]

    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(available_stacks(program_dir)) or "none"
        raise StackConfigError(f"unknown stack '{stack}': no {stack_file.name} in {program_dir} (stacks: {known})")
    stack_doc = _load_yaml(stack_file) or {}
    if not isinstance(stack_doc, dict):
        raise StackConfigError(f"{stack_file}: must be a mapping with a 'config' key")
    stack_values = stack_doc.get("config") or {}
    if not isinstance(stack_values, dict):
        raise StackConfigError(f"{stack_file}: key 'config' must be a mapping of 'namespace:key' to values")

    def qualify(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    secret_keys: set[str] = set()
    values: dict[str, str] = {}
    # Project-level defaults come first; the stack file overrides them, as in the CLI.
    for key, spec in (project_doc.get("config") or {}).items():
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            values[qualify(key)] = _stringify(qualify(key), spec.get("value", spec.get("default")), secret_keys)
    for key, value in stack_values.items():
        if not isinstance(key, str):
            raise StackConfigError(f"{stack_file}: config key {key!r} must be a string")
        values[qualify(key)] = _stringify(qualify(key), value, secret_keys)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=tuple(sorted(secret_keys)))
