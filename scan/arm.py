"""Export a stack's registered azure-native resources (offline preview's resources.json) as an ARM template.

What each resource becomes, and why:
- `type` and `name` come from the resource's id. The offline mocks build ids the way Azure does
  (offline/mocks.py), so the provider path is the ARM type and the name segments joined with "/" are the
  ARM name of a child resource ("st/default/configuration" for a blob container).
- Extension resources (an id with a second "/providers/": diagnostic settings, role assignments, locks,
  data collection rule associations) get ARM's `scope`: the resource they extend, in the relative form
  "Namespace/type/name" a resource-group deployment accepts.
- `apiVersion` is the Azure REST API version the installed pulumi-azure-native calls (scan.sdk).
- azure-native flattens the ARM body's `properties` into the resource's inputs, and adds the request-path
  parameters (resourceGroupName, accountName, scope, ...). Path parameters are dropped (they are the id);
  ARM's top-level keys stay at the top; everything else goes back under `properties`. Some resources
  (Key Vault, secrets) take `properties` as one input; it is merged as is. Renamed properties and
  flattened sub-resources get their REST names and shapes back (scan.wire).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scan.sdk import describe
from scan.wire import identity_to_rest, properties_to_rest

TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
AZURE_NATIVE_PREFIX = "azure-native:"
# Keys of an ARM resource body that sit beside `properties`, not inside it (name and type come from the id).
TOP_LEVEL_KEYS = frozenset({"location", "tags", "sku", "kind", "identity", "zones", "extendedLocation", "plan"})
# Inputs named like a top-level key that the REST API nonetheless carries under `properties`:
# a Log Analytics workspace's pricing tier is `properties.sku` (Microsoft.OperationalInsights/workspaces).
UNDER_PROPERTIES: dict[str, frozenset[str]] = {
    "Microsoft.OperationalInsights/workspaces": frozenset({"sku"}),
}
# The resource group is the deployment's target, not a resource a resource-group template can declare.
DEPLOYMENT_TARGET = "azure-native:resources:ResourceGroup"


class ConversionError(ValueError):
    """A registered resource cannot be expressed faithfully as an ARM resource."""


@dataclass(frozen=True)
class ArmAddress:
    """Where a resource lives in ARM, read from its id."""

    resource_group: str
    type: str
    name: str
    # The extended resource ("Microsoft.Storage/storageAccounts/st"); None for a resource in the group itself.
    scope: str | None


def _provider_path(resource_id: str, where: str) -> tuple[str, str]:
    """Split an id at its last "/providers/": (what it is scoped to, "Namespace/type/name/...")."""
    marker = "/providers/"
    index = resource_id.lower().rfind(marker)
    if index == -1:
        raise ConversionError(f"{where}: id {resource_id!r} has no /providers/ segment, so no ARM type")
    return resource_id[:index], resource_id[index + len(marker) :]


def _resource_group(scope_id: str, where: str) -> str:
    parts = scope_id.split("/")
    if len(parts) < 5 or parts[1].lower() != "subscriptions" or parts[3].lower() != "resourcegroups":
        raise ConversionError(f"{where}: {scope_id!r} is not inside a resource group")
    return parts[4]


def parse_id(resource_id: str, where: str = "resource") -> ArmAddress:
    """ARM type, name, resource group and (for extension resources) scope of a resource id."""
    scope_id, path = _provider_path(resource_id, where)
    namespace, *segments = path.split("/")
    if not segments or len(segments) % 2:
        raise ConversionError(f"{where}: id {resource_id!r} does not end in type/name pairs")
    arm_type = "/".join([namespace, *segments[0::2]])
    name = "/".join(segments[1::2])
    scope: str | None = None
    if "/providers/" in scope_id.lower():
        # An extension resource: its scope is another resource, which names the resource group.
        _, scope = _provider_path(scope_id, where)
    return ArmAddress(_resource_group(scope_id, where), arm_type, name, scope)


def canonical_namespaces(resource_ids: Iterable[str]) -> dict[str, str]:
    """Lower-cased namespace -> its spelling with capitals, as the stack's ids spell it.

    ARM namespaces are case-insensitive, but scanners match type strings exactly. The REST API of
    private link scopes spells "microsoft.insights", diagnostic settings "Microsoft.Insights".
    """
    spellings: dict[str, str] = {}
    for resource_id in resource_ids:
        lower = resource_id.lower()
        start = 0
        while (index := lower.find("/providers/", start)) != -1:
            namespace = resource_id[index + len("/providers/") :].split("/", 1)[0]
            if namespace != namespace.lower():
                spellings.setdefault(namespace.lower(), namespace)
            start = index + 1
    return spellings


def _with_namespace(arm_type_or_path: str, spellings: Mapping[str, str]) -> str:
    namespace, _, rest = arm_type_or_path.partition("/")
    return f"{spellings.get(namespace.lower(), namespace)}/{rest}"


def _check_path_params(inputs: Mapping[str, Any], path_params: frozenset[str], resource_id: str, where: str) -> None:
    """A path parameter's value is part of the id; one that is not would mean we dropped a body property."""
    segments = set(resource_id.split("/"))
    for key in sorted(path_params & inputs.keys()):
        value = inputs[key]
        if not isinstance(value, str) or not (value in segments or resource_id.startswith(value.rstrip("/") + "/")):
            raise ConversionError(
                f"{where}: input {key}={value!r} is a path parameter of the SDK's get invoke but does not appear "
                f"in the id {resource_id!r}; refusing to drop it"
            )


def split_inputs(
    inputs: Mapping[str, Any], path_params: frozenset[str], arm_type: str, where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(top-level keys, properties) of an ARM body from azure-native inputs, path parameters left out."""
    under_properties = UNDER_PROPERTIES.get(arm_type, frozenset())
    top: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in path_params:
            continue
        if key in TOP_LEVEL_KEYS and key not in under_properties:
            top[key] = copy.deepcopy(value)
        elif key == "properties" and isinstance(value, Mapping):
            clash = properties.keys() & value.keys()
            if clash:
                raise ConversionError(f"{where}: {sorted(clash)} given both flattened and inside `properties`")
            properties.update(copy.deepcopy(dict(value)))
        else:
            if key in properties:
                raise ConversionError(f"{where}: {key!r} given both flattened and inside `properties`")
            properties[key] = copy.deepcopy(value)
    return top, properties


def convert_resource(resource: Mapping[str, Any], spellings: Mapping[str, str]) -> dict[str, Any]:
    """One resources.json entry (an azure-native custom resource) as an ARM template resource."""
    token = str(resource["type"])
    where = f"{token} {resource.get('name', '?')}"
    resource_id = str(resource.get("id") or "")
    address = parse_id(resource_id, where)
    sdk = describe(token)
    inputs: Mapping[str, Any] = resource.get("inputs") or {}
    _check_path_params(inputs, sdk.path_params, resource_id, where)
    arm_type = _with_namespace(address.type, spellings)
    top, properties = split_inputs(inputs, sdk.path_params, arm_type, where)
    converted: dict[str, Any] = {"type": arm_type, "apiVersion": sdk.api_version, "name": address.name}
    if address.scope is not None:
        converted["scope"] = _with_namespace(address.scope, spellings)
    if "identity" in top:
        top["identity"] = identity_to_rest(top["identity"])
    converted.update(top)
    if properties:
        converted["properties"] = properties_to_rest(arm_type, properties)
    # Where it came from, for a reviewer going from a finding back to the Pulumi resource.
    converted["metadata"] = {"pulumiType": token, "pulumiName": resource.get("name"), "pulumiUrn": resource.get("urn")}
    return converted


def azure_resources(resources: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The registered azure-native custom resources a template declares (not the deployment's resource group)."""
    return [
        resource
        for resource in resources
        if str(resource.get("type", "")).startswith(AZURE_NATIVE_PREFIX)
        and resource.get("custom", True)
        and resource["type"] != DEPLOYMENT_TARGET
    ]


def subscription_level(resource: Mapping[str, Any]) -> bool:
    """Whether the resource lives in the subscription itself (a policy definition): a resource-group template cannot
    declare it, so the template leaves it out and names it in its metadata."""
    scope_id, _ = _provider_path(str(resource.get("id") or ""), str(resource.get("type")))
    parts = scope_id.split("/")
    return len(parts) == 3 and parts[1].lower() == "subscriptions"


ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def _group_of(resource: Mapping[str, Any]) -> str:
    return parse_id(str(resource["id"]), str(resource["type"])).resource_group.lower()


def _home_group(registered: Sequence[Mapping[str, Any]], selected: Sequence[Mapping[str, Any]]) -> str:
    """The stack's resource group: the one it declares, else the one most of its resources live in."""
    declared = [r for r in registered if r.get("type") == "azure-native:resources:ResourceGroup" and r.get("id")]
    if len(declared) == 1:
        return str(declared[0]["id"]).rstrip("/").rsplit("/", 1)[-1].lower()
    counts = Counter(_group_of(r) for r in selected)
    return counts.most_common(1)[0][0] if counts else ""


def build_template(document: Mapping[str, Any]) -> dict[str, Any]:
    """An ARM deployment template (resource-group scope) from a resources.json document."""
    registered: list[Mapping[str, Any]] = list(document.get("resources") or [])
    selected = azure_resources(registered)
    left_out = sorted(str(r.get("name")) for r in selected if subscription_level(r))
    selected = [r for r in selected if not subscription_level(r)]
    if not selected:
        raise ConversionError("resources.json registers no azure-native resources")
    spellings = canonical_namespaces(str(r.get("id") or "") for r in registered)
    # Grants the stack makes on resources it does not own (a data account, the platform vault's Docker Hub secrets)
    # live in their owners' groups: named in the metadata, like the subscription's own resources.
    # Only grants: any other resource outside the group still refuses, so nothing the stack owns escapes the scan.
    home = _home_group(registered, selected)
    foreign_grants = [r for r in selected if r.get("type") == ROLE_ASSIGNMENT and _group_of(r) != home]
    outside = sorted(str(r.get("name")) for r in foreign_grants)
    selected = [r for r in selected if r not in foreign_grants]
    converted = [convert_resource(resource, spellings) for resource in selected]
    groups = {parse_id(str(r["id"]), str(r["type"])).resource_group for r in selected}
    if len(groups) != 1:
        raise ConversionError(f"resources span several resource groups {sorted(groups)}; one template cannot hold them")
    converted.sort(key=lambda r: (r["type"].lower(), r["name"], r.get("scope") or ""))
    return {
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "generator": "coa-lockdown scan.arm (from the offline preview's registered inputs)",
            "project": document.get("project"),
            "stack": document.get("stack"),
            "resourceGroup": groups.pop(),
            "subscriptionLevelResourcesLeftOut": left_out,
            "otherResourceGroupsLeftOut": outside,
        },
        "resources": converted,
    }


def load_resources_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise ConversionError(f"{path} is not an offline preview resources.json (no `resources` list)")
    return document


def write_template(resources_json: Path, destination: Path) -> dict[str, Any]:
    template = build_template(load_resources_json(resources_json))
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(json.dumps(template, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return template
