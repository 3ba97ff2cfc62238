"""TriggerService 3.2.0 (microsoft/CromwellOnAzure tag 3.2.0, src/TriggerService): watches workflows/new in the default
storage account, submits to Cromwell, and reads task state from TES's Cosmos DB container.

Its credentials work like TES 3.2's (an Entra application through AzureServicesAuthConnectionString), with one trap:
at start it lists every storage account the application can see and fetches the key of each
(AzureStorage.cs:218-235), failing when any one is refused. Its application must see no storage account whose keys
it may not list.
"""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting
from components.contracts.tes_3_2_0 import APP_AUTH, CONNECTION_STRING

COA = "microsoft/CromwellOnAzure@3.2.0"
TS = f"{COA}:src/TriggerService"
COSMOS_CLIENT = "this.cosmosClient = new CosmosClient(endpoint, key);"

TRIGGERSERVICE_3_2_0 = Contract(
    workload="triggerservice",
    version="3.2.0",
    image_key="triggerservice",
    listen_port=0,  # a worker: no HTTP endpoint
    pod_identity="application",
    settings=(
        Setting(
            name="AzureServicesAuthConnectionString",
            shape="<from /mnt/secrets-store/triggerservice-azure-services-auth>",
            source=f"{APP_AUTH}:91",
            quote=CONNECTION_STRING,
        ),
        # Start-up fails when no listed account has this name (AzureStorage.cs:205, :222).
        Setting(
            name="DefaultStorageAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{TS}/Program.cs:34",
            quote='var defaultStorageAccountName = Environment.GetEnvironmentVariable("DefaultStorageAccountName");',
        ),
        # Required: "CosmosDbAccountName cannot be null" (Program.cs:88-91).
        Setting(
            name="CosmosDbAccountName",
            shape=r"[a-z0-9][a-z0-9-]{1,42}[a-z0-9]",
            source=f"{TS}/Program.cs:35",
            quote='var cosmosDbAccountName = Environment.GetEnvironmentVariable("CosmosDbAccountName");',
        ),
    ),
    containers=(
        # new/, inprogress/, succeeded/, failed/, abort/ prefixes.
        Container(
            name="workflows",
            source=f"{TS}/AzureStorage.cs:24",
            quote='private const string WorkflowsContainerName = "workflows";',
        ),
        # <sample>.<id>.outputs.json, .metadata.json, .timing.html (CromwellOnAzureEnvironment.cs:475-501).
        Container(
            name="outputs",
            source=f"{TS}/CromwellOnAzureEnvironment.cs:25",
            quote='private const string OutputsContainerName = "outputs";',
        ),
    ),
    azure_actions=(
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{TS}/AzureStorage.cs:248",
            quote="(await azureClient.WithSubscription(subId).StorageAccounts.ListAsync())",
        ),
        # Every blob call (trigger files, outputs, container creation) uses CloudStorageAccount with this key
        # (AzureStorage.cs:226-228).
        AzureAction(
            action="Microsoft.Storage/storageAccounts/listKeys/action",
            scope="storage-account",
            source=f"{TS}/AzureStorage.cs:259",
            quote="return (await storageAccount.GetKeysAsync())[0].Value;",
        ),
        AzureAction(
            action="Microsoft.DocumentDB/databaseAccounts/read",
            scope="cosmos-account",
            source=f"{TS}/Program.cs:96",
            quote="azureClient.WithSubscription(subId).CosmosDBAccounts.ListAsync()",
        ),
        AzureAction(
            action="Microsoft.DocumentDB/databaseAccounts/listKeys/action",
            scope="cosmos-account",
            source=f"{TS}/Program.cs:105",
            quote="CosmosDBAccounts.ListKeysAsync(account.ResourceGroupName, account.Name)).PrimaryMasterKey;",
        ),
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            via="secrets-csi",
            source=f"{APP_AUTH}:91",
            quote=CONNECTION_STRING,
        ),
    ),
    egress=(
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve Cromwell's Service, the blob and Cosmos DB names",
            source=f"{COA}:src/Tes/Repository/CosmosDbRepository.cs:37",
            quote=COSMOS_CLIENT,
        ),
        # Fixed in App.config, not configurable: the Service must be named `cromwell`, port 8000, in the namespace.
        Egress(
            to="pod:cromwell",
            port=8000,
            why="submit, status, outputs, metadata",
            source=f"{TS}/App.config:6",
            quote='<add key="CromwellUrl" value="http://cromwell:8000" />',
        ),
        Egress(
            to="private-endpoints",
            port=443,
            why="workflows and outputs blobs (shared key), Cosmos DB gateway",
            source=f"{TS}/AzureStorage.cs:249",
            quote="BlobEndpoint = a.EndPoints.Primary.Blob",
        ),
        # Direct mode, as for TES (components/contracts/tes_3_2_0.py).
        Egress(
            to="private-endpoints",
            port=1,
            end_port=65535,
            why="Cosmos DB direct mode: TCP to the replicas behind the private endpoint, on ports chosen at run time",
            source=f"{COA}:src/Tes/Repository/CosmosDbRepository.cs:37",
            quote=COSMOS_CLIENT,
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("management.azure.com",),
            why="ARM at start (fatal if unreachable): subscription, storage and Cosmos DB listing, listKeys",
            source=f"{TS}/Program.cs:123",
            quote='private static Task<string> GetAzureAccessTokenAsync(string resource = "https://management.azure.com/")',
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("login.microsoftonline.com",),
            why="Entra ID: client-credential tokens for ARM",
            source=f"{APP_AUTH}:74",
            quote='string azureAdInstance = "https://login.microsoftonline.com/",',
        ),
    ),
    mounts=(
        Mount(
            path="/mnt/secrets-store",
            read_only=True,
            use="secret-files",
            source=f"{APP_AUTH}:91",
            quote=CONNECTION_STRING,
        ),
    ),
    notes=(
        "Trigger files may name http(s) URLs (CromwellOnAzureEnvironment.cs:297-303, DownloadFileUsingHttpClientAsync): "
        "those hosts are not allowed; workflow files must live in the storage account.",
        "Its application sees exactly the CoA storage account: any other visible account whose key it cannot list "
        "stops it at start (AzureStorage.cs:221-226, Task.WhenAll over every account).",
        "No Application Insights: ApplicationInsightsAccountName stays unset (instrumentation keys only, Program.cs:33-57).",
    ),
)
