"""The private DNS zones this architecture resolves through, in one keyed catalogue: the zones the network creates
(components/private_dns.py), and the keys a stack names hub zones by (dns.existingZoneIds)."""

from __future__ import annotations

# Catalogue key -> zone name. Zone names are fixed by Azure ("Azure Private Endpoint private DNS zone values").
# `aks` is regional: the private API server of a cluster in <region> registers in privatelink.<region>.azmk8s.io.
ZONES: dict[str, str] = {
    "blob": "privatelink.blob.core.windows.net",
    "vault": "privatelink.vaultcore.azure.net",
    "batch": "privatelink.batch.azure.com",
    "postgres": "privatelink.postgres.database.azure.com",
    "registry": "privatelink.azurecr.io",
    "aks": "privatelink.{location}.azmk8s.io",
    # Azure Monitor Private Link Scope: ingestion and query endpoints of Log Analytics and Application Insights.
    "monitor": "privatelink.monitor.azure.com",
    "omsOpinsights": "privatelink.oms.opinsights.azure.com",
    "odsOpinsights": "privatelink.ods.opinsights.azure.com",
    "agentSvc": "privatelink.agentsvc.azure-automation.net",
    # Cosmos DB API for NoSQL (`Sql` endpoints): only stacks with taskDatabase cosmosdb have an account.
    "documents": "privatelink.documents.azure.com",
}
# Zones only some stacks need, by the taskDatabase that needs them.
ZONE_NEEDED_BY: dict[str, str] = {"documents": "cosmosdb"}


def zones_for(task_database: str) -> tuple[str, ...]:
    """The catalogue keys a stack with this task database resolves (and creates, unless the hub owns them)."""
    return tuple(key for key in ZONES if ZONE_NEEDED_BY.get(key, task_database) == task_database)


def zone_name(key: str, location: str) -> str:
    return ZONES[key].format(location=location)
