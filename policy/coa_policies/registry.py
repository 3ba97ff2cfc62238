"""Azure Container Registry."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import UNKNOWN, Rule, Subject, get, known, same

REGISTRY = ("azure-native:containerregistry:Registry",)


def _admin_off(s: Subject) -> Iterable[str]:
    if get(s.props, "adminUserEnabled") is True:
        yield "adminUserEnabled is true: a shared username/password can push and pull."


def _anonymous_off(s: Subject) -> Iterable[str]:
    if get(s.props, "anonymousPullEnabled") is True:
        yield "anonymousPullEnabled is true: anyone can pull images."


def _public_off(s: Subject) -> Iterable[str]:
    public = get(s.props, "publicNetworkAccess")
    if public is not UNKNOWN and not same(public, "Disabled"):
        yield f"publicNetworkAccess is {public if known(public) else 'not set (Enabled)'}; set Disabled (Premium SKU)."


POLICIES = [
    Rule(
        name="acr-admin-user-disabled",
        types=REGISTRY,
        check=_admin_off,
        description="Container registries have the admin user disabled.",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set adminUserEnabled: false; pull with managed identities.",
        anchor="CKV_AZURE_137",
    ),
    Rule(
        name="acr-anonymous-pull-disabled",
        types=REGISTRY,
        check=_anonymous_off,
        description="Container registries refuse anonymous pulls.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set anonymousPullEnabled: false.",
        anchor="CKV_AZURE_138",
    ),
    Rule(
        name="acr-public-network-disabled",
        types=REGISTRY,
        check=_public_off,
        description="Container registries are reachable only through private endpoints.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set publicNetworkAccess: Disabled (Premium SKU) and add a private endpoint.",
        anchor="CKV_AZURE_139",
    ),
]
