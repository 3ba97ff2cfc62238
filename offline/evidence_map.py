"""The HIPAA Security Rule safeguards the evidence pack reports on, and what counts as evidence for each.

The 45 CFR 164.312 technical safeguards take their rules from the pack itself: each rule names exactly one of them in
its `framework` (policy/coa_policies/_core.py SAFEGUARDS), and policy.json carries it. The 164.308 and 164.310 items
have no place in the pack's metadata, so their rules are chosen here, one reason each. Checkov checks join a safeguard
when a rule under it names them in its anchor; the checks below join one on their own (each with its reason), chiefly
so that every check scan/waivers.yaml waives has a safeguard to be shown under. Guardrail overrides
(configuration/guardrails.py) are placed the same way. Changing this table is a review decision, like a waiver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# What each safeguard shows from the runtime contracts (components/contracts/derive.py).
ContractView = Literal["grants", "egress", "identity"]


@dataclass(frozen=True, kw_only=True)
class Safeguard:
    reference: str  # as the pack writes it: "164.312(a)(1)"
    title: str
    # True: every rule whose framework names `reference`; the 164.308/310 items list theirs in `rules`.
    from_pack: bool
    rules: Mapping[str, str] = field(default_factory=dict)  # rule -> why it serves this safeguard
    checks: Mapping[str, str] = field(default_factory=dict)  # Checkov id no rule anchors here -> why
    overrides: Mapping[str, str] = field(default_factory=dict)  # guardrail override -> what it weakens here
    contracts: tuple[ContractView, ...] = ()

    @property
    def citation(self) -> str:
        return f"45 CFR {self.reference}"


SAFEGUARDS: tuple[Safeguard, ...] = (
    Safeguard(
        reference="164.312(a)(1)",
        title="Access control",
        from_pack=True,
        checks={
            "CKV_AZURE_8": "the Kubernetes dashboard is an access path into the cluster",
            "CKV_AZURE_36": "which Azure services may pass the storage firewall",
            "CKV_K8S_15": "whether each pod start re-checks the right to pull its image",
            "CKV_K8S_25": "capabilities added to a container widen what its process may do",
            "CKV_K8S_38": "service account tokens mounted into pods are credentials to the API server",
        },
        overrides={"noClusterAdminGroups": "who administers the cluster is no longer named"},
        contracts=("grants",),
    ),
    Safeguard(
        reference="164.312(a)(2)(iv)",
        title="Encryption and decryption",
        from_pack=True,
        checks={"CKV_AZURE_76": "Batch account data encrypted with a key from Key Vault (customer-managed)"},
    ),
    Safeguard(
        reference="164.312(b)",
        title="Audit controls",
        from_pack=True,
    ),
    Safeguard(
        reference="164.312(c)(1)",
        title="Integrity",
        from_pack=True,
        checks={
            "CKV_AZURE_163": "vulnerability scanning of the images that run",
            "CKV_AZURE_166": "images quarantined until scanned before anything may pull them",
        },
        overrides={
            "unpinnedImages": "a re-pushed tag would change what runs",
            "outOfSupportRuntime": "TES and TriggerService run on a runtime that gets no security fixes",
        },
    ),
    Safeguard(
        reference="164.312(d)",
        title="Person or entity authentication",
        from_pack=True,
        checks={"CKV_AZURE_172": "the CSI driver refreshes the credentials pods read from Key Vault"},
        overrides={
            "sharedKeyAccess": "account keys authenticate no person or workload identity",
            "cosmosLocalAuth": "Cosmos DB account keys authenticate no person or workload identity",
            "applicationCredential": "a copyable client secret, not a federated token, signs the pods in",
        },
        contracts=("identity",),
    ),
    Safeguard(
        reference="164.312(e)(1)",
        title="Transmission security",
        from_pack=True,
        checks={"CKV2_K8S_6": "pods without a NetworkPolicy may open connections anywhere"},
        overrides={"nonProductionEnvironment": "a production-named stack without firewall egress"},
        contracts=("egress",),
    ),
    Safeguard(
        reference="164.308(a)(1)(ii)(D)",
        title="Information system activity review",
        from_pack=False,
        rules={
            "diagnostics-to-log-analytics": "the records to review reach one workspace",
            "diagnostics-audit-categories": "those records include the audit categories, not only metrics",
            "log-analytics-retention-minimum": "the records are kept long enough to be reviewed",
            "flow-log-retention-90-days": "network activity records are kept long enough to be reviewed",
            "appinsights-workspace-based": "application telemetry lands in the same workspace as the rest",
        },
    ),
    Safeguard(
        reference="164.308(a)(7)",
        title="Contingency plan (backups, geo-redundancy, locks, protect)",
        from_pack=False,
        rules={
            "storage-blob-soft-delete-and-versioning": "deleted or overwritten blobs can be restored",
            "postgres-backup-retention": "the workflow databases can be restored to a point in time",
            "postgres-geo-redundant-backup-production": "database backups survive the loss of the region",
            "keyvault-soft-delete": "deleted secrets can be recovered",
            "keyvault-purge-protection": "no one can purge a deleted vault or secret before its retention ends",
            "stateful-resources-protected-in-production": "Pulumi refuses to delete the data-bearing resources",
            "stateful-resources-locked-in-production": "Azure refuses to delete them (CanNotDelete locks)",
        },
        checks={
            "CKV_AZURE_206": "storage replication decides what survives a zone or region loss",
            "CKV_AZURE_233": "a zone-redundant registry keeps images pullable through a zone outage",
        },
        overrides={
            "unprotectedState": "data-bearing resources lose protect and their locks",
            "locallyRedundantStorage": "the data does not survive the loss of its region",
            "nonProductionEnvironment": "a production-named stack without protection and HA",
        },
    ),
    Safeguard(
        reference="164.310(d)(1)",
        title="Device and media controls (disk and host encryption)",
        from_pack=False,
        rules={
            "aks-encryption-at-host": "node temp disks and caches are encrypted on the host",
            "aks-ephemeral-os-disk-production": "no managed OS disk outlives a production node",
            "storage-account-infrastructure-encryption": "the media under the blobs carry a second encryption layer",
            "batch-pool-disk-encryption": "Batch nodes encrypt their OS and temporary disks",
        },
    ),
)

# Checks some waiver in scan/waivers.yaml covers that serve none of the claimed safeguards: shown apart, with why.
OUTSIDE: Mapping[str, str] = {
    "CKV_K8S_8": "liveness probes are availability hygiene, not a claimed safeguard",
    "CKV_K8S_9": "readiness probes are availability hygiene, not a claimed safeguard",
}

PACK_REFERENCES = frozenset(s.reference for s in SAFEGUARDS if s.from_pack)


def framework_reference(framework: str) -> str:
    """The safeguard a rule names in policy.json's `framework` ("HIPAA 45 CFR 164.312 164.312(e)(1)"); "" if none."""
    parts = framework.split()
    return parts[-1] if parts and parts[0] == "HIPAA" else ""
