"""Azure Container Registry."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import UNKNOWN, Rule, Subject, finding, get, known, matches_any, same

REGISTRY = ("azure-native:containerregistry:Registry",)
CACHE_RULE = ("azure-native:containerregistry:CacheRule",)
# Upstreams whose images the stack caches: Microsoft's registry and named Docker Hub publishers (library: Docker
# official images). Anything else is a new supplier, added here or in the policy config on purpose.
TRUSTED_UPSTREAMS = [
    "mcr.microsoft.com/*",
    "docker.io/library/*",
    "docker.io/broadinstitute/*",
    "docker.io/curlimages/*",
]


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


def _cache_upstream(s: Subject) -> Iterable[str]:
    source = get(s.props, "sourceRepository")
    if isinstance(source, str) and not matches_any(source.strip(), s.config["allowedUpstreams"]):
        yield finding(
            f"sourceRepository {source!r} is not an allowed upstream: pulls of {get(s.props, 'targetRepository')!r} "
            "would serve whatever that repository publishes.",
            upstream=source,
        )


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
    Rule(
        name="acr-cache-rule-trusted-upstream",
        types=CACHE_RULE,
        check=_cache_upstream,
        description="Registry cache rules pull only from allowed upstream repositories.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Point the cache rule at the publisher's own repository, or add the upstream to "
        "allowedUpstreams after reviewing who publishes it.",
        anchor="none: gap in existing scanners",
        config={"allowedUpstreams": {"type": "array", "items": {"type": "string"}, "default": TRUSTED_UPSTREAMS}},
    ),
]
