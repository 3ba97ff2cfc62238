"""Reference numbers the capacity plan (offline/capacity.py) reads, each from the source that sets it.

Nothing here is measured on a subscription: quotas and connection limits are confirmed there (docs/preflight.md;
`az batch account show --query "{dedicatedCoreQuotaPerVMFamily:...}"`, `SHOW max_connections`)."""

from __future__ import annotations

from dataclasses import dataclass

# --- Cromwell 87 -----------------------------------------------------------------------------------------------------
# Two Slick databases per Cromwell process, engine and metadata, each its own connection pool
# (broadinstitute/cromwell@87:services/src/main/scala/cromwell/services/EngineServicesStore.scala:13,
# MetadataServicesStore.scala:24; database/sql/src/main/scala/cromwell/database/slick/SlickDatabase.scala:60,73).
CROMWELL_DATABASE_POOLS = 2
# Slick 3.4.0-M1 (project/Dependencies.scala:135): numThreads defaults to 20 and HikariCP's maximumPoolSize and
# minimumIdle both default to numThreads (slick/slick@v3.4.0-M1:slick-hikaricp/src/main/scala/slick/jdbc/hikaricp/
# HikariCPJdbcDataSource.scala:48,55-56): 20 connections per pool, held open even when idle. The chart sets no
# numThreads (charts/cromwell-on-azure/templates/cromwell-config.yaml:92-101).
SLICK_CONNECTIONS_PER_POOL = 20
# core/src/main/resources/reference.conf:118 max-concurrent-workflows; :122 max-workflow-launch-count (one workflow
# started) per :147 new-workflow-poll-rate (every 20 s); :252-255 job-rate-control (20 jobs per 10 s).
CROMWELL_MAX_CONCURRENT_WORKFLOWS = 5000
CROMWELL_WORKFLOWS_PER_LAUNCH = 1
CROMWELL_LAUNCH_INTERVAL_SECONDS = 20
CROMWELL_JOBS_PER_RATE_WINDOW = 20
CROMWELL_RATE_WINDOW_SECONDS = 10
# No concurrent-job-limit in the chart's TES backend (cromwell-config.yaml:58-90): the token pool's capacity is then
# 10,000,000 (engine/src/main/scala/cromwell/engine/workflow/tokens/UnhoggableTokenPool.scala:17,112;
# backend/src/main/scala/cromwell/backend/BackendLifecycleActorFactory.scala:62-70).
CROMWELL_CONCURRENT_JOB_LIMIT = 10_000_000

# --- TES 6.0.0 and TriggerService 6.0.0 -------------------------------------------------------------------------------
# One NpgsqlDataSource per process (microsoft/ga4gh-tes@6.0.0:src/Tes/Repository/TesTaskPostgreSqlRepository.cs:103;
# TriggerService builds its own: microsoft/CromwellOnAzure@6.0.0:src/TriggerService/TriggerService.cs:91), from a
# connection string without pool settings (src/Tes/Utilities/PostgresConnectionStringUtility.cs:28-35), so Npgsql's
# default Maximum Pool Size of 100 applies (npgsql/npgsql@v8.0.5:src/Npgsql/NpgsqlConnectionStringBuilder.cs:721;
# TES pins Npgsql.EntityFrameworkCore.PostgreSQL 8.0.10: src/Tes/Tes.csproj:24). Minimum Pool Size is 0: the 100 is
# a peak, reached under load.
NPGSQL_MAX_POOL_SIZE = 100

# --- The chart --------------------------------------------------------------------------------------------------------
# charts/cromwell-on-azure/templates/cromwell.yaml:13, tes.yaml:11, triggerservice.yaml:10.
REPLICAS = {"cromwell": 1, "tes": 1, "triggerservice": 1}
# The db-init hook's psql session (charts/cromwell-on-azure/templates/db-init.yaml), during install and upgrade.
HOOK_CONNECTIONS = 1
# Pods besides the three Deployments: the batch-config-upload and db-init hook Jobs and the helm test pod.
HOOK_PODS = 3
# components/aks.py:111 max_pods=250 per node (Azure CNI Overlay).
AKS_MAX_PODS_PER_NODE = 250

# --- Azure Batch ------------------------------------------------------------------------------------------------------
# TES sets no task slots (microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1319-1329), so each node runs one
# task, Batch's default (MicrosoftDocs/azure-docs@004ec53:articles/batch/batch-parallel-node-tasks.md: "the default
# setting of one task per node"); the pool's autoscale target is its pending task count (BatchPool.cs:307-315).
TASKS_PER_NODE = 1
# A pool per key (Batch prefix, VM size, low priority, identities, data disks, runner: BatchScheduler.BatchPools.cs:29-46)
# and a job per pool, named after it (BatchPool.cs:677).
JOBS_PER_POOL = 1
# Batch service allocation mode (components/batch.py): the Batch account's quotas apply. New accounts' defaults vary by
# region and subscription and can be zero (MicrosoftDocs/azure-docs@0238229:includes/azure-batch-limits.md: dedicated
# cores 10-900, low-priority 10-100, active jobs 100-300, pools 0-100): what the plan needs is requested, not assumed.
# Azure reserves five addresses in every subnet; a node without a public IP takes one (configuration/network.py).
AZURE_RESERVED_ADDRESSES = 5


# --- Azure Database for PostgreSQL flexible server ---------------------------------------------------------------------
# Default max_connections per compute (MicrosoftDocs/azure-databases-docs@0200b8f:articles/postgresql/configure-maintain/
# concepts-limits.md, "Maximum connections"); Azure reserves 15 for replication and monitoring.
POSTGRES_RESERVED_CONNECTIONS = 15
_POSTGRES_ROWS: tuple[tuple[str, int], ...] = (
    ("B1ms", 50),
    ("B2s", 429),
    ("B2ms", 859),
    ("B4ms", 1718),
    ("B8ms", 3437),
    ("B12ms B16ms B20ms", 5000),
    ("D2s_v3 D2ds_v4 D2ds_v5 D2ads_v5", 859),
    ("D4s_v3 D4ds_v4 D4ds_v5 D4ads_v5", 1718),
    ("D8s_v3 D8ds_v4 D8ds_v5 D8ads_v5", 3437),
    ("D16s_v3 D16ds_v4 D16ds_v5 D16ads_v5 D32s_v3 D32ds_v4 D32ds_v5 D32ads_v5", 5000),
    ("D48s_v3 D48ds_v4 D48ds_v5 D48ads_v5 D64s_v3 D64ds_v4 D64ds_v5 D64ads_v5 D96ds_v5 D96ads_v5", 5000),
    ("E2s_v3 E2ds_v4 E2ds_v5 E2ads_v5", 1718),
    ("E4s_v3 E4ds_v4 E4ds_v5 E4ads_v5", 3437),
    ("E8s_v3 E8ds_v4 E8ds_v5 E8ads_v5 E16s_v3 E16ds_v4 E16ds_v5 E16ads_v5 E20ds_v4 E20ds_v5 E20ads_v5", 5000),
    ("E32s_v3 E32ds_v4 E32ds_v5 E32ads_v5 E48s_v3 E48ds_v4 E48ds_v5 E48ads_v5", 5000),
    ("E64s_v3 E64ds_v4 E64ds_v5 E64ads_v5 E96ds_v5 E96ads_v5", 5000),
)
POSTGRES_MAX_CONNECTIONS: dict[str, int] = {
    name.casefold(): limit for names, limit in _POSTGRES_ROWS for name in names.split()
}
# Burstable: "When credits are exhausted, the VM is restricted to baseline CPU, which under sustained load can cause
# severe performance degradation, connection timeouts ... Not recommended for production workloads"
# (MicrosoftDocs/azure-databases-docs@2d8d56e:articles/postgresql/compute-storage/concepts-compute.md, pricing tiers).
# Burstable runs at baseline CPU once its credits are spent: under sustained load "severe performance degradation,
# connection timeouts", "not recommended for production workloads" (azure-databases-docs concepts-compute.md).
BURSTABLE_REASON = "Burstable throttles under sustained load (Azure: not for production); use GeneralPurpose"


@dataclass(frozen=True)
class PostgresLimit:
    max_connections: int
    max_user_connections: int


def postgres_limit(sku_name: str) -> PostgresLimit | None:
    """The SKU's default connection limits, or None for a SKU the documented table does not list."""
    limit = POSTGRES_MAX_CONNECTIONS.get(sku_name.casefold().removeprefix("standard_"))
    return None if limit is None else PostgresLimit(limit, limit - POSTGRES_RESERVED_CONNECTIONS)
