"""Which rules block an update is part of the contract: this list changes only on purpose, in review. A rule lowered to
advisory (in the pack, or by a stack's policy config) fails here, not only in the README's table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy.coa_policies import all_policies

CONFIGS = Path(__file__).resolve().parents[2] / "policy" / "config"
# Advisory on purpose: each has a mandatory production twin, or (egress) Azure's default rule already allows it.
ADVISORY = {
    "keyvault-secrets-and-keys-expire",  # keyvault-secrets-and-keys-expire-production
    "nsg-outbound-internet-restricted",  # AllowInternetOutBound is a default rule; routes bound egress
    "storage-account-shared-key-disabled",  # storage-account-shared-key-disabled-production
}
MANDATORY = {
    "acr-admin-user-disabled",
    "acr-anonymous-pull-disabled",
    "acr-cache-rule-trusted-upstream",
    "acr-customer-managed-key",
    "acr-public-network-disabled",
    "aks-automatic-upgrades",
    "aks-disk-customer-managed-key",
    "aks-azure-policy-addon",
    "aks-encryption-at-host",
    "aks-entra-id-with-azure-rbac",
    "aks-ephemeral-os-disk-production",
    "aks-image-admission-enforced",
    "aks-kubernetes-version-supported",
    "federated-credential-bound-to-cluster",
    "federated-credential-trusts-own-cluster",
    "foreign-vault-grants-per-secret",
    "k8s-no-broad-rbac-binding",
    "log-analytics-table-retention-minimum",
    "aks-local-accounts-disabled",
    "aks-network-policy-enabled",
    "aks-no-node-public-ip",
    "aks-private-api-server",
    "aks-rbac-enabled",
    "aks-workload-identity-oidc",
    "batch-runtime-pools-governed",
    "appinsights-ip-masking-enabled",
    "appinsights-local-auth-disabled",
    "appinsights-public-access-disabled",
    "appinsights-workspace-based",
    "batch-account-autostorage-managed-identity",
    "batch-account-entra-id-auth-only",
    "batch-account-public-network-disabled",
    "batch-pool-blobfuse-by-identity",
    "batch-pool-disk-encryption",
    "batch-pool-in-subnet",
    "batch-pool-no-public-ip",
    "batch-pool-simplified-node-communication",
    "batch-pool-supported-node-image",
    "cosmosdb-key-based-metadata-write-disabled",
    "cosmosdb-local-auth-disabled",
    "cosmosdb-public-network-disabled",
    "cosmosdb-tls-1-2-minimum",
    "custom-role-no-wildcard-actions",
    "customer-key-grants-least-privilege",
    "data-account-grants-per-container",
    "data-account-private-endpoint",
    "diagnostics-audit-categories",
    "diagnostics-to-log-analytics",
    "disk-encryption-set-follows-rotation",
    "egress-through-firewall",
    "flow-log-retention-90-days",
    "helm-release-renders",
    "k8s-drop-all-capabilities",
    "k8s-image-digest-pinned-production",
    "k8s-image-from-allowed-registry",
    "k8s-image-pinned",
    "k8s-namespace-pod-security-restricted",
    "k8s-network-policy-egress-restricted",
    "k8s-no-privilege-escalation",
    "k8s-no-privileged-or-host-access",
    "k8s-read-only-root-filesystem",
    "k8s-resource-requests-and-limits",
    "k8s-run-as-non-root",
    "k8s-seccomp-runtime-default",
    "k8s-service-not-exposed",
    "keyvault-key-rotation-policy",
    "keyvault-public-network-disabled",
    "keyvault-purge-protection",
    "keyvault-rbac-authorization",
    "keyvault-secret-expiry-bounded",
    "keyvault-secrets-and-keys-expire-production",
    "keyvault-soft-delete",
    "log-analytics-local-auth-disabled",
    "log-analytics-public-access-disabled",
    "log-analytics-retention-minimum",
    "nsg-inbound-private-sources-only",
    "nsg-no-http-from-internet",
    "nsg-no-inbound-from-internet",
    "nsg-no-rdp-from-internet",
    "nsg-no-ssh-from-internet",
    "paas-private-endpoint-with-dns",
    "postgres-backup-retention",
    "postgres-customer-managed-key",
    "postgres-entra-auth-enabled",
    "postgres-firewall-no-wide-ranges",
    "postgres-geo-redundant-backup-production",
    "postgres-public-network-disabled",
    "postgres-tls-enforced",
    "private-dns-zone-linked",
    "public-ip-only-for-nat-gateway",
    "role-assignment-no-privileged-role",
    "role-assignment-resource-scope",
    "stateful-resources-locked-in-production",
    "stateful-resources-protected-in-production",
    "storage-account-blob-public-access-disabled",
    "storage-customer-managed-key",
    "storage-account-cross-tenant-replication-disabled",
    "storage-account-https-only",
    "storage-account-infrastructure-encryption",
    "storage-account-public-network-restricted",
    "storage-account-sas-expiry-policy",
    "storage-account-shared-key-disabled-production",
    "storage-account-tls-1-2-minimum",
    "storage-blob-soft-delete-and-versioning",
    "storage-container-private",
    "subnet-default-outbound-access-disabled",
    "subnet-has-nsg",
    "tes-batch-node-images-supported",
}


def _levels() -> dict[str, str]:
    return {p.name: p.enforcement_level.value for p in all_policies() if p.enforcement_level is not None}


def test_the_pack_reports_each_rule_at_its_pinned_level() -> None:
    levels = _levels()
    assert {name for name, level in levels.items() if level == "mandatory"} == MANDATORY
    assert {name for name, level in levels.items() if level == "advisory"} == ADVISORY
    assert set(levels) == MANDATORY | ADVISORY


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.json")), ids=lambda p: p.name)
def test_stack_policy_configs_lower_no_rule(config: Path) -> None:
    """A stack's policy config sets properties and per-resource waivers; it never sets an enforcement level."""
    for rule, entry in json.loads(config.read_text()).items():
        assert rule != "all", f"{config.name}: 'all' sets every rule's level"
        assert isinstance(entry, dict), f"{config.name}: {rule} is set to the level {entry!r}"
        assert "enforcementLevel" not in entry, f"{config.name}: {rule}.enforcementLevel is set"
