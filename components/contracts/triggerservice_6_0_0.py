"""TriggerService 6.0.0 (microsoft/CromwellOnAzure tag 6.0.0): watches workflows/new in the default storage account,
submits to Cromwell, and reads task state from the TES database.

CoA 6.0.0 builds it with the ga4gh-tes submodule at the commit of TES tag 6.0.0 (src/ga4gh-tes), so its credential,
cloud-metadata and PostgreSQL code is cited at microsoft/ga4gh-tes@6.0.0."""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting

COA = "microsoft/CromwellOnAzure@6.0.0"
TES = "microsoft/ga4gh-tes@6.0.0"
PG = f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs"

TRIGGERSERVICE_6_0_0 = Contract(
    workload="triggerservice",
    version="6.0.0",
    image_key="triggerservice",
    listen_port=0,  # a worker: no HTTP endpoint
    settings=(
        # Read when TriggerService builds its ARM and blob credentials (AzureStorageUtility.cs:53, :83).
        Setting(
            name="AzureServicesAuthConnectionString",
            shape=r"RunAs=Workload;AppId=[0-9a-f-]{36}",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:55",
            quote='ConnectionString = GetEnvironmentVariable("AzureServicesAuthConnectionString")!;',
        ),
        Setting(
            name="AZURE_ADDITIONALLY_ALLOWED_TENANTS",
            shape=r"\*",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:74",
            quote='(GetEnvironmentVariable("AZURE_ADDITIONALLY_ALLOWED_TENANTS") ?? string.Empty)',
        ),
        # Section TriggerService (TriggerServiceOptions.cs:8), read at start.
        Setting(
            name="TriggerService__AzureCloudName",
            shape=r"AzureCloud|AzureUSGovernment|AzureChinaCloud",
            source=f"{COA}:src/TriggerService/TriggerService.cs:104-106",
            quote="AzureCloudConfig.FromKnownCloudNameAsync(cloudName: options.AzureCloudName",
        ),
        # Start-up fails when no listed account has this name (AzureStorageUtility.cs:49, :56-59).
        Setting(
            name="TriggerService__DefaultStorageAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{COA}:src/TriggerService/TriggerHostedService.cs:69",
            quote="GetStorageAccountsUsingMsiAsync(triggerServiceOptions.Value.DefaultStorageAccountName)",
        ),
        # Section CromwellApiClient and its property; required (CromwellApiClient.cs:25). The default
        # http://cromwell:8000 (appsettings.json:9) resolves only inside the namespace; the chart names the Service in
        # full.
        Setting(
            name="CromwellApiClient__BaseUrl",
            shape=r"http://cromwell\.[a-z0-9-]+\.svc\.cluster\.local:8000",
            source=f"{COA}:src/CromwellApiClient/CromwellApiClientOptions.cs:8-9",
            quote="public string BaseUrl { get; set; }",
        ),
        # Section TesPostgreSql: PostgreSqlOptions bound to GetConfigurationSectionName("Tes") (TriggerService.cs:87);
        # the repository it registers (TriggerService.cs:91-94) builds its connection string in TES's code, which
        # requires each key below.
        Setting(
            name="TesPostgreSql__ServerName",
            shape=r"[a-z0-9][a-z0-9-]{1,62}",
            source=f"{PG}:15",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.ServerName,",
        ),
        Setting(
            name="TesPostgreSql__ServerNameSuffix",
            shape=r"\.postgres\.database\.azure\.com",
            source=f"{PG}:16",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.ServerNameSuffix,",
        ),
        Setting(
            name="TesPostgreSql__DatabaseName",
            shape=r"tes_db",
            source=f"{PG}:19",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseName,",
        ),
        Setting(
            name="TesPostgreSql__DatabaseUserLogin",
            shape=r"[a-z_][a-z0-9_]*",
            source=f"{PG}:20",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserLogin,",
        ),
        Setting(
            name="TesPostgreSql__DatabaseUserPassword",
            shape=r"<from /mnt/secrets-store/tes-db-password>",
            source=f"{PG}:21",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserPassword,",
        ),
    ),
    containers=(
        # new/, inprogress/, succeeded/, failed/, abort/ prefixes.
        Container(
            name="workflows",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:19",
            quote='private const string WorkflowsContainerName = "workflows";',
        ),
        # <sample>.<id>.outputs.json, .metadata.json, .timing.html (TriggerHostedService.cs:524-580)
        Container(
            name="outputs",
            source=f"{COA}:src/TriggerService/TriggerHostedService.cs:29",
            quote='private const string OutputsContainerName = "outputs";',
        ),
    ),
    azure_actions=(
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:73",
            quote="subId.GetStorageAccountsAsync()",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:88",
            quote="await blob.UploadAsync(writer.BaseStream, cancellationToken: cancellationToken);",
        ),
        # Reads trigger files and outputs, moves triggers between prefixes (delete), lists the account's containers
        # at start and creates workflows/outputs if missing; all with its own token (AzureStorage.cs).
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:120",
            quote="_ = await blob.DownloadToAsync(reader.BaseStream, cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:127",
            quote="GetBlockBlobClient(blobName).DeleteIfExistsAsync(cancellationToken: cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/read",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:47",
            quote="_ = await blobClient.GetBlobContainersAsync(cancellationToken: cancellationToken).ToListAsync(cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/write",
            scope="storage-account",
            source=f"{COA}:src/TriggerService/AzureStorage.cs:79",
            quote="_ = await containerReference.CreateIfNotExistsAsync(cancellationToken: cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            via="secrets-csi",
            source=f"{PG}:21",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserPassword,",
        ),
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            principal="kubelet",
            via="image-pull",
            source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1214",
            quote="await AssignManagedIdAcrPullToResourceAsync(managedIdentity, acr);",
        ),
    ),
    egress=(
        # The TES database host is a name (so is Cromwell's Service, CromwellApiClient.cs:29).
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve Cromwell's Service and PostgreSQL",
            source=f"{PG}:29",
            quote='$"Host={options.Value.ServerName}{options.Value.ServerNameSuffix};"',
        ),
        Egress(
            to="pod:cromwell",
            port=8000,
            why="submit, status, outputs, metadata",
            source=f"{COA}:src/CromwellApiClient/CromwellApiClient.cs:29",
            quote="url = $\"{cromwellApiClientOptions.Value.BaseUrl.TrimEnd('/')}{basePath}\";",
        ),
        Egress(
            to="postgres",
            port=5432,
            why="TES task state",
            source=f"{COA}:src/TriggerService/TriggerService.cs:91-94",
            quote="serviceCollection.AddSingleton<IRepository<TesTask>, TesTaskPostgreSqlRepository>(sp => new(",
        ),
        Egress(
            to="private-endpoints",
            port=443,
            why="workflows and outputs blobs",
            source=f"{COA}:src/TriggerService/AzureStorageUtility.cs:54",
            quote="BlobServiceClient storageAccount = new(account.BlobEndpoint, storageCredentials);",
        ),
        # Cloud metadata fetched at start (TriggerService.cs:106, fatal if unreachable), then the ARM storage listing.
        Egress(
            to="azure-public",
            port=443,
            fqdns=("management.azure.com",),
            why="cloud metadata at start (fatal if unreachable), ARM subscription and storage listing",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:171",
            quote='ResourceManagerUrl = "https://management.azure.com/",',
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("login.microsoftonline.com",),
            why="Entra ID: workload identity token exchange",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:71",
            quote='public string LoginEndpointUrl { get; set; } = "https://login.microsoftonline.com";',
        ),
    ),
    mounts=(
        Mount(
            path="/mnt/secrets-store",
            read_only=True,
            use="secret-files",
            source=f"{PG}:21",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserPassword,",
        ),
    ),
    notes=(
        "Telemetry only with a connection string and no Entra credential (TriggerService.cs:68-80): not configured.",
    ),
)
