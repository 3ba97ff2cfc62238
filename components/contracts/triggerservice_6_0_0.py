"""TriggerService 6.0.0 (microsoft/CromwellOnAzure tag 6.0.0): watches workflows/new in the default storage account,
submits to Cromwell, and reads task state from the TES database."""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting

COA = "microsoft/CromwellOnAzure@6.0.0"
TES = "microsoft/ga4gh-tes@6.0.0"

TRIGGERSERVICE_6_0_0 = Contract(
    workload="triggerservice",
    version="6.0.0",
    image_key="triggerservice",
    listen_port=0,  # a worker: no HTTP endpoint
    settings=(
        Setting(
            name="AzureServicesAuthConnectionString",
            shape=r"RunAs=Workload;AppId=[0-9a-f-]{36}",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:82-85",
        ),
        Setting(
            name="AZURE_ADDITIONALLY_ALLOWED_TENANTS",
            shape=r"\*",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:74",
        ),
        Setting(
            name="TriggerService__AzureCloudName",
            shape=r"AzureCloud|AzureUSGovernment|AzureChinaCloud",
            source=f"{COA}:src/TriggerService/TriggerService.cs:102-108",
        ),
        # Start-up fails when no listed account has this name.
        Setting(
            name="TriggerService__DefaultStorageAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:56-59",
        ),
        # The default http://cromwell:8000 resolves only inside the namespace; the chart names the Service in full.
        Setting(
            name="CromwellApiClient__BaseUrl",
            shape=r"http://cromwell\.[a-z0-9-]+\.svc\.cluster\.local:8000",
            source=f"{COA}:src/CromwellApiClient/CromwellApiClient.cs:18-19",
        ),
        Setting(
            name="TesPostgreSql__ServerName",
            shape=r"[a-z0-9][a-z0-9-]{1,62}",
            source=f"{COA}:src/TriggerService/TriggerService.cs:87",
        ),
        Setting(
            name="TesPostgreSql__ServerNameSuffix",
            shape=r"\.postgres\.database\.azure\.com",
            source=f"{COA}:src/TriggerService/TriggerService.cs:87",
        ),
        Setting(
            name="TesPostgreSql__DatabaseName", shape=r"tes_db", source=f"{COA}:src/TriggerService/TriggerService.cs:87"
        ),
        Setting(
            name="TesPostgreSql__DatabaseUserLogin",
            shape=r"[a-z_][a-z0-9_]*",
            source=f"{COA}:src/TriggerService/TriggerService.cs:91-94",
        ),
        Setting(
            name="TesPostgreSql__DatabaseUserPassword",
            shape=r"<from /mnt/secrets-store/tes-db-password>",
            source=f"{COA}:src/TriggerService/TriggerService.cs:91-94",
        ),
    ),
    containers=(
        # new/, inprogress/, succeeded/, failed/, abort/ prefixes.
        Container(name="workflows", source=f"{COA}:src/TriggerService/AzureStorage.cs:19"),
        # <sample>.<id>.outputs.json, .metadata.json, .timing.html
        Container(name="outputs", source=f"{COA}:src/TriggerService/TriggerHostedService.cs:524-580"),
    ),
    azure_actions=(
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:65-76",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:53-54",
        ),
    ),
    egress=(
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve Cromwell's Service and PostgreSQL",
            source=f"{COA}:src/CromwellApiClient/CromwellApiClient.cs:18-19",
        ),
        Egress(
            to="pod:cromwell",
            port=8000,
            why="submit, status, outputs, metadata",
            source=f"{COA}:src/CromwellApiClient/CromwellApiClient.cs:29",
        ),
        Egress(
            to="postgres", port=5432, why="TES task state", source=f"{COA}:src/TriggerService/TriggerService.cs:91-94"
        ),
        Egress(
            to="private-endpoints",
            port=443,
            why="workflows and outputs blobs",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:53-54",
        ),
        Egress(
            to="azure-public",
            port=443,
            why="cloud metadata at start, Entra ID tokens, ARM storage listing",
            source=f"{COA}:src/TriggerService/TriggerService.cs:102-108",
        ),
    ),
    mounts=(
        Mount(path="/mnt/secrets-store", read_only=True, source=f"{COA}:src/TriggerService/TriggerService.cs:91-94"),
    ),
    notes=(
        "Telemetry only with a connection string and no Entra credential (TriggerService.cs:68-80): not configured.",
    ),
)
