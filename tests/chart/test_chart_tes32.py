"""The chart with generation tes32 (CoA 3.2.0's TES and TriggerService): every object validates for the cluster
version, the 3.2 Deployments replace the TES 6 ones, a port range renders as NetworkPolicy endPort, and a TES 6 release
renders exactly as before whether or not it names its generation."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
from chart_checks import case_values, env_of, get, pod_security_violations, rendered_case
from render import deep_merge, render_chart
from test_chart_render import SPC_SCHEMA

CASE = "dev-tes32"


def _objects() -> list[dict[str, Any]]:
    return rendered_case(CASE)


def test_every_object_validates_for_the_cluster_version() -> None:
    version = case_values(CASE)["kubernetesVersion"]
    for obj in _objects():
        if obj["kind"] == "SecretProviderClass":
            jsonschema.validate(obj, SPC_SCHEMA)
        else:
            kubernetes_validate.validate(obj, version, strict=True)
    assert pod_security_violations(_objects()) == []


def test_the_3_2_deployments_replace_the_tes6_ones() -> None:
    tes = get(_objects(), "Deployment", "tes")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(tes)
    assert env["CosmosDbAccountName"] == "cosmos-coa-dev-x1y2"
    assert not [name for name in env if "__" in name], "TES 6's <Section>__<Key> settings leaked into TES 3.2"
    assert "exec dotnet tesapi.dll" in tes["args"][0]
    trigger = get(_objects(), "Deployment", "triggerservice")["spec"]["template"]["spec"]["containers"][0]
    assert set(env_of(trigger)) == {"HOME", "DefaultStorageAccountName", "CosmosDbAccountName"}
    # The Service Cromwell calls is the same for both generations.
    service = get(_objects(), "Service", "tes")
    assert service["spec"]["ports"][0]["port"] == 80 and service["spec"]["ports"][0]["targetPort"] == "http"


def test_a_port_range_renders_as_end_port() -> None:
    policy = get(_objects(), "NetworkPolicy", "tes")
    ranges = [p for rule in policy["spec"]["egress"] for p in rule["ports"] if "endPort" in p]
    assert ranges == [{"protocol": "TCP", "port": 1, "endPort": 65535}]
    cromwell = get(_objects(), "NetworkPolicy", "cromwell")
    assert not [p for rule in cromwell["spec"]["egress"] for p in rule["ports"] if "endPort" in p]


def test_a_tes6_release_renders_the_same_with_or_without_naming_its_generation() -> None:
    values = case_values("dev")
    assert "generation" not in values
    assert render_chart(deep_merge(values, {"generation": "tes6"})) == rendered_case("dev")
