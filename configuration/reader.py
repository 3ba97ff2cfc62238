"""Typed access to raw stack configuration that names the full key path in every error."""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

PROJECT = "coa-lockdown"

# An Entra ID object id, and any ARM resource id.
GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
AZURE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+$", re.IGNORECASE)


class ConfigError(ValueError):
    """Configuration values that are missing or invalid: one line per error in `errors`, each starting with its key.

    The message is the one error, or a count followed by one line per error (what `pulumi preview` prints); the
    offline preview prints `errors` one per line."""

    def __init__(self, *errors: str) -> None:
        self.errors: tuple[str, ...] = tuple(line for error in errors for line in error.splitlines() if line.strip())
        if len(self.errors) == 1:
            super().__init__(self.errors[0])
        else:
            super().__init__(f"{len(self.errors)} configuration errors:\n" + "\n".join(f"  - {e}" for e in self.errors))


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error quotes it: its repr, cut at `limit` characters so that the error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(str(value))} characters)"


def suggest(key: str, known: Collection[str]) -> str:
    """'; did you mean X?' for a near miss (case, underscores, typos), else the list of valid keys."""
    folded = {k.replace("_", "").lower(): k for k in known}
    match = folded.get(key.replace("_", "").replace("-", "").lower())
    close = [match] if match else difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; valid keys are {', '.join(sorted(known))}"


class Reader:
    """Typed access to one object of raw config, naming the full key path in every error."""

    def __init__(self, raw: Mapping[str, Any], path: str = "") -> None:
        self.raw = raw
        self.path = path

    def key(self, name: str) -> str:
        return f"{PROJECT}:{self.path}{name}"

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}: {message}")

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def child(self, name: str, allowed: set[str]) -> Reader:
        value = self._decoded(name, {}, "an object")
        if not isinstance(value, Mapping):
            raise self.fail(name, "must be an object")
        return self._checked(name, value, allowed)

    def object_list(self, name: str, allowed: set[str]) -> list[Reader]:
        """A list of objects, each read with its index in the key path (`dataStorageAccounts[0].id`)."""
        value = self._decoded(name, [], "a list of objects")
        if not isinstance(value, list):
            raise self.fail(name, f"must be a list of objects, got {type(value).__name__}")
        readers = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{name}[{index}]", f"must be an object, got {item!r}")
            readers.append(self._checked(f"{name}[{index}]", item, allowed))
        return readers

    def _decoded(self, name: str, default: Any, what: str) -> Any:
        """The raw value; stack config may hold objects and lists as JSON strings."""
        value = self.raw.get(name, default)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise self.fail(name, f"must be {what}") from None
        return value

    def _checked(self, name: str, value: Mapping[str, Any], allowed: set[str]) -> Reader:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ConfigError(f"{self.key(name)}.{unknown[0]}: unknown key{suggest(unknown[0], allowed)}")
        return Reader(value, f"{self.path}{name}.")

    def string(self, name: str, default: str | None = None, *, pattern: str | None = None, hint: str = "") -> str:
        value = self.raw.get(name, default)
        if value is None:
            raise self.fail(name, f"is required{': ' + hint if hint else ''}")
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"must be a non-empty string, got {shown(value)}")
        if pattern and not re.fullmatch(pattern, value):
            raise self.fail(name, f"{shown(value)} is not valid: {hint or pattern}")
        return value

    def optional_string(self, name: str) -> str | None:
        return self.string(name) if self.has(name) else None

    def choice(self, name: str, choices: tuple[str, ...] | frozenset[str], default: str | None = None) -> str:
        value = self.string(name, default, hint=f"one of {', '.join(sorted(choices))}")
        if value not in choices:
            raise self.fail(name, f"{shown(value)} is not valid; use one of {', '.join(sorted(choices))}")
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw.get(name, default)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be a whole number, got {shown(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(name, f"{value} is out of range; use {minimum}-{maximum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {shown(value)}")
        return value

    def network(self, name: str, default: str | None = None) -> ipaddress.IPv4Network:
        value = self.string(name, default, hint="an IPv4 CIDR such as 10.1.0.0/16")
        try:
            return ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise self.fail(name, f"{shown(value)} is not a valid IPv4 CIDR ({exc}); e.g. 10.1.0.0/16") from None

    def address(self, name: str, default: str | None = None) -> str:
        value = self.string(name, default, hint="an IPv4 address")
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise self.fail(name, f"{shown(value)} is not a valid IPv4 address") from None

    def date(self, name: str) -> datetime.date:
        value = self.string(name, pattern=r"\d{4}-\d{2}-\d{2}", hint="a date, YYYY-MM-DD")
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise self.fail(name, f"{value!r} is not a calendar date") from None

    def string_list(self, name: str, *, pattern: str | None = None, hint: str = "") -> tuple[str, ...]:
        value = self.raw.get(name, [])
        if isinstance(value, str) and value.strip()[:1] == "[":
            value = self._decoded(name, [], "a list of strings")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            example = f"[{value}]" if isinstance(value, str) else "[...]"
            raise self.fail(name, f"must be a list of strings, got {shown(value)}; write {example}")
        for item in value:
            if pattern and not re.fullmatch(pattern, item):
                raise self.fail(name, f"{item!r} is not valid: {hint}")
        return tuple(value)

    def string_map(self, name: str) -> dict[str, str]:
        value = self.raw.get(name, {})
        if isinstance(value, str) and value.strip()[:1] == "{":
            value = self._decoded(name, {}, "a map of strings")
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(name, f"must be a map of strings such as {{costCenter: genomics}}, got {shown(value)}")
        return dict(value)
