"""What the installed pulumi-azure-native SDK knows about a resource type, read from its source files.

The SDK is the provider's own description of each resource: the class docstring names the Azure REST API
version the provider calls, and the resource's `get<Resource>` invoke takes exactly the request-path
parameters (resourceGroupName, accountName, scope, ...). Reading the files, rather than importing the
modules, keeps this fast: the SDK is thousands of modules.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

_API_VERSION = re.compile(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)\b")
_INVOKE_ARG = re.compile(r"__args__\['(\w+)'\]")


class SdkLookupError(LookupError):
    """The installed SDK does not describe a type token the way the converter needs."""


@dataclass(frozen=True)
class SdkResource:
    token: str
    api_version: str
    # Wire (camelCase) names of the request-path parameters; they are not part of the ARM resource body.
    path_params: frozenset[str]


@functools.cache
def sdk_root() -> Path:
    spec = importlib.util.find_spec("pulumi_azure_native")
    if spec is None or not spec.submodule_search_locations:
        raise SdkLookupError("pulumi_azure_native is not installed in this interpreter's environment")
    return Path(next(iter(spec.submodule_search_locations)))


def split_token(token: str) -> tuple[str, str]:
    """ "azure-native:storage:StorageAccount" -> ("storage", "StorageAccount")."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "azure-native" or not parts[1] or not parts[2]:
        raise SdkLookupError(f"{token!r} is not an azure-native resource type token")
    return parts[1], parts[2]


def _module_dir(module: str) -> Path:
    directory = sdk_root() / module
    if not directory.is_dir():
        raise SdkLookupError(f"pulumi_azure_native has no module {module!r} (looked in {directory})")
    return directory


def _file_defining(directory: Path, pattern: re.Pattern[str], what: str) -> tuple[Path, str]:
    matches = [(path, text) for path in sorted(directory.glob("*.py")) if pattern.search(text := path.read_text())]
    if len(matches) != 1:
        found = ", ".join(path.name for path, _ in matches) or "none"
        raise SdkLookupError(f"expected one file in {directory} defining {what}, found {found}")
    return matches[0]


def _api_version(token: str, class_source: str, path: Path) -> str:
    versions = set(_API_VERSION.findall(class_source))
    if len(versions) != 1:
        raise SdkLookupError(
            f"{path}: expected one 'Uses Azure REST API version' for {token}, found {sorted(versions)}"
        )
    return versions.pop()


def _invoke_args(getter_source: str, invoke_token: str, path: Path) -> frozenset[str]:
    """Argument names the `get<Resource>` invoke sends (its first definition; the _output twin is identical)."""
    end = getter_source.find(f"'{invoke_token}'")
    if end == -1:
        raise SdkLookupError(f"{path} does not invoke {invoke_token}")
    names = _INVOKE_ARG.findall(getter_source[:end])
    if not names:
        raise SdkLookupError(f"{path}: {invoke_token} sends no arguments")
    return frozenset(names)


@functools.cache
def describe(token: str) -> SdkResource:
    """API version and path parameters of an azure-native resource type, from the installed SDK."""
    module, resource = split_token(token)
    directory = _module_dir(module)
    class_path, class_source = _file_defining(
        directory, re.compile(rf"^class {re.escape(resource)}\(pulumi\.CustomResource\):", re.MULTILINE), token
    )
    invoke_token = f"azure-native:{module}:get{resource}"
    getter_path, getter_source = _file_defining(
        directory, re.compile(rf"'{re.escape(invoke_token)}'"), f"the invoke {invoke_token}"
    )
    return SdkResource(
        token=token,
        api_version=_api_version(token, class_source, class_path),
        path_params=_invoke_args(getter_source, invoke_token, getter_path),
    )
