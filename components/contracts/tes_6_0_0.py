"""TES 6.0.0 (microsoft/ga4gh-tes tag 6.0.0) at runtime, as this project runs it: workload identity, PostgreSQL,
a private Batch account, the CoA storage account as its default account."""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting, StartTaskRun, TaskImages

TES = "microsoft/ga4gh-tes@6.0.0"
ARM_ID = r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
NAME = r"[a-z0-9][a-z0-9-]{1,62}"
PG = f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs"
COA = "microsoft/CromwellOnAzure@6.0.0"
RUNNER_SAS = f"{TES}:src/Tes.Runner/Storage/ArmUrlTransformationStrategy.cs"

# The node image options, one property per line of BatchImageGenerationOptionsBase; sections BatchImageGen1 and
# BatchImageGen2 (BatchImageGenerationOptions.cs:41, :52; bound at Startup.cs:86-87).
_IMAGE_KEYS = (
    ("Publisher", r"[a-z0-9-]+", 18),
    ("Offer", r"[a-z0-9-]+", 14),
    ("Sku", r"[A-Za-z0-9._-]+", 22),
    ("Version", r"latest|[0-9.]+", 26),
    ("NodeAgentSkuId", r"batch\.node\.(ubuntu (22\.04|24\.04)|centos [0-9.]+)", 30),
)

TES_6_0_0 = Contract(
    workload="tes",
    version="6.0.0",
    image_key="tes",
    # Binds :80 unless ASPNETCORE_URLS says otherwise (Program.cs:60); the chart moves it to 8080 (no NET_BIND_SERVICE
    # needed).
    listen_port=8080,
    settings=(
        Setting(
            name="ASPNETCORE_URLS",
            shape=r"http://0\.0\.0\.0:8080",
            source=f"{TES}:src/TesApi.Web/Program.cs:58",
            quote='if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))',
        ),
        # RunAs=Workload selects WorkloadIdentityCredential (AzureServicesConnectionStringCredential.cs:391-405); an
        # empty value stops TES at start.
        Setting(
            name="AzureServicesAuthConnectionString",
            shape=r"RunAs=Workload;AppId=[0-9a-f-]{36}",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:55",
            quote='ConnectionString = GetEnvironmentVariable("AzureServicesAuthConnectionString")!;',
        ),
        # The Batch token is requested for the cloud-metadata tenant (AzureProxy.cs:113-115); Azure.Identity refuses
        # it without this.
        Setting(
            name="AZURE_ADDITIONALLY_ALLOWED_TENANTS",
            shape=r"\*",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:74",
            quote='(GetEnvironmentVariable("AZURE_ADDITIONALLY_ALLOWED_TENANTS") ?? string.Empty)',
        ),
        # Section General (GeneralOptions.cs:14), read at start; the accepted names are AzureCloudConfig.cs:142-151.
        Setting(
            name="General__AzureCloudName",
            shape=r"AzureCloud|AzureUSGovernment|AzureChinaCloud",
            source=f"{TES}:src/TesApi.Web/Program.cs:156-158",
            quote="AzureCloudConfig.FromKnownCloudNameAsync(cloudName: tesOptions.AzureCloudName",
        ),
        # Section BatchAccount (BatchAccountOptions.cs:14); TES stops when the name is empty.
        Setting(
            name="BatchAccount__AccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{TES}:src/TesApi.Web/Startup.cs:431",
            quote="if (string.IsNullOrEmpty(options.Value.AccountName))",
        ),
        # Section BatchNodes (BatchNodesOptions.cs:14); the subnet goes into the ARM pool body
        # (BatchScheduler.cs:1333-1339).
        Setting(
            name="BatchNodes__SubnetId",
            shape=ARM_ID + r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:150",
            quote="this.batchNodesSubnetId = batchNodesOptions.Value.SubnetId;",
        ),
        # Applied only together with SubnetId: NoPublicIPAddresses (BatchScheduler.cs:1337).
        Setting(
            name="BatchNodes__DisablePublicIpAddress",
            shape=r"true",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:152",
            quote="this.disableBatchNodesPublicIpAddress = batchNodesOptions.Value.DisablePublicIpAddress;",
        ),
        Setting(
            name="BatchNodes__GlobalStartTask",
            shape=r"/configuration/start-task\.sh",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:157",
            quote="StandardizeStartTaskPath(batchNodesOptions.Value.GlobalStartTask, this.defaultStorageAccountName)",
        ),
        # Without a pool identity every task fails with NoManagedIdentityForRunner (TaskToNodeTaskConverter.cs:418).
        Setting(
            name="BatchNodes__GlobalManagedIdentity",
            shape=ARM_ID + r"Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:158",
            quote="this.globalManagedIdentity = batchNodesOptions.Value.GlobalManagedIdentity;",
        ),
        # Section BatchScheduling (BatchSchedulingOptions.cs:14); "This value must be provided".
        Setting(
            name="BatchScheduling__Prefix",
            shape=r"[a-z0-9]{1,12}",
            source=f"{TES}:src/TesApi.Web/Options/BatchSchedulingOptions.cs:25-27",
            quote="public string Prefix { get; set; }",
        ),
        # TES's own defaults (appsettings.json) are the retired Ubuntu 20.04 images; the node agent must be Ubuntu/CentOS.
        *(
            Setting(
                name=f"{gen}__{key}",
                shape=shape,
                source=f"{TES}:src/TesApi.Web/Options/BatchImageGenerationOptions.cs:{line}",
                quote=f"public string {key} {{ get; set; }}",
            )
            for gen in ("BatchImageGen1", "BatchImageGen2")
            for key, shape, line in _IMAGE_KEYS
        ),
        # Section Storage (StorageOptions.cs:14).
        Setting(
            name="Storage__DefaultAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{TES}:src/TesApi.Web/Storage/DefaultStorageAccessProvider.cs:224",
            quote='new BlobUriBuilder(new($"https://{storageOptions.DefaultAccountName}.blob.',
        ),
        # Section TesPostgreSql: PostgreSqlOptions bound to GetConfigurationSectionName("Tes") at Startup.cs:83, which
        # is "Tes" + "PostgreSql" (Tes/Models/PostgreSqlOptions.cs:11-20). Each key below is required at start.
        Setting(
            name="TesPostgreSql__ServerName",
            shape=NAME,
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
            name="TesPostgreSql__ServerSslMode",
            shape=r"VerifyFull|VerifyCA|Require",
            source=f"{PG}:34",
            quote='connectionStringBuilder.Append($"SslMode={options.Value.ServerSslMode};");',
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
        # The password is exported by the entrypoint from the Key Vault file (never a plain value).
        Setting(
            name="TesPostgreSql__DatabaseUserPassword",
            shape=r"<from /mnt/secrets-store/tes-db-password>",
            source=f"{PG}:21",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserPassword,",
        ),
    ),
    containers=(
        # TES uploads its runner here at start and stops if it cannot; it creates no container itself. Its VM size
        # lists live here too, as /tes-internal/configuration/... (ConfigurationUtils.cs:77-78).
        Container(
            name="tes-internal",
            source=f"{TES}:src/TesApi.Web/Storage/StorageAccessProvider.cs:27",
            quote='public const string TesExecutionsPathPrefix = "/tes-internal";',
        ),
        # Holds the global start task: BatchNodes__GlobalStartTask names a blob of the default account
        # (BatchScheduler.cs:157, :518-528), and TES's own deployer puts it in this container.
        Container(
            name="configuration",
            source=f"{TES}:src/deploy-tes-on-azure/scripts/env-04-settings.txt:15",
            quote="GlobalStartTaskPath=/configuration/start-task.sh",
        ),
        # /cromwell-executions/... paths from Cromwell map to this container of the default account
        # (DefaultStorageAccessProvider.cs:98-102).
        Container(
            name="cromwell-executions",
            source=f"{TES}:src/TesApi.Web/Storage/StorageAccessProvider.cs:22",
            quote='public const string CromwellPathPrefix = "/cromwell-executions/";',
        ),
    ),
    azure_actions=(
        # Subscriptions, then every storage account in them: the default account must be found or TES stops.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:424",
            quote="azureClient.GetSubscriptions().SelectMany(s => s.GetStorageAccountsAsync(cancellationToken))",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:435",
            quote="azureClient.GetUserDelegationKeyAsync(startsOn: now.Subtract(TimeSpan.FromMinutes(15))",
        ),
        # A user-delegation SAS carries only what its signer may do with the data.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/Storage/DefaultStorageAccessProvider.cs:148",
            quote="BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write",
        ),
        # Reads what it signed for: the allowed-vm-sizes file, the start task's existence, the runner's outputs.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:457",
            quote="=> (await new BlobClient(blobAbsoluteUri).DownloadContentAsync(cancellationToken)).Value.Content.ToString();",
        ),
        # Task inputs/outputs in other accounts (/<account>/<container>/...): the same ARM lookup and a user-delegation
        # SAS signed for that account.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:424",
            quote="azureClient.GetSubscriptions().SelectMany(s => s.GetStorageAccountsAsync(cancellationToken))",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:435",
            quote="azureClient.GetUserDelegationKeyAsync(startsOn: now.Subtract(TimeSpan.FromMinutes(15))",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/Runner/TaskToNodeTaskConverter.cs:345",
            quote="MapLocalPathToSasUrlAsync(input.Url, cancellationToken, default, getContainerSas: true)",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/read",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/ArmResourceInformationFinder.cs:56",
            quote="listAsync: Azure.ResourceManager.Batch.BatchExtensions.GetBatchAccountsAsync,",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/write",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:50",
            quote="await batchManagementClient.GetBatchAccountPools().CreateOrUpdateAsync(Azure.WaitUntil.Completed,",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/delete",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:74-75",
            quote=".DeleteAsync(Azure.WaitUntil.Completed, cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/jobs/write",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:178-182",
            quote="var job = batchClient.JobOperations.CreateJob(jobId, new() { PoolId = poolId });",
        ),
        # The runner on each node pulls task images with the pool identity (GlobalManagedIdentity) when no ACR-pull
        # identity is configured; our registry allows no anonymous pull.
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            principal="batch-node",
            source=f"{TES}:src/Tes.Runner/Authentication/CredentialsManager.cs:44-51",
            quote="public virtual TokenCredential GetAcrPullTokenCredential(RuntimeOptions runtimeOptions,",
        ),
        # The runner turns each blob URL TES hands it into a user-delegation SAS it signs itself, as the pool identity
        # (TES chooses the CombinedAzureResourceManager strategy, Runner/NodeTaskBuilder.cs:297-301): inputs with
        # Read|List, outputs and logs with Read|Write|Create|List (Storage/ResolutionPolicyHandler.cs:14-15).
        *(
            AzureAction(
                action="Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
                scope=scope,
                principal="batch-node",
                source=f"{RUNNER_SAS}:112",
                quote="userDelegationKey = await blobServiceClient.GetUserDelegationKeyAsync(startsOn: now,",
            )
            for scope in ("storage-account", "data-account")
        ),
        *(
            AzureAction(
                action=f"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{verb}",
                scope=scope,
                principal="batch-node",
                source=f"{TES}:src/Tes.Runner/Storage/ResolutionPolicyHandler.cs:{line}",
                quote=quote,
            )
            for scope in ("storage-account", "data-account")
            for verb, line, quote in (
                ("read", 14, "const BlobSasPermissions DownloadBlobSasPermissions = BlobSasPermissions.Read"),
                ("write", 15, "UploadBlobSasPermissions = BlobSasPermissions.Read | BlobSasPermissions.Write"),
            )
        ),
        # The kubelet pulls TES's image from the private registry. CoA makes the kubelet identity its managed
        # identity (Deployer.cs:1082) and grants that AcrPull on the registry.
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            principal="kubelet",
            via="image-pull",
            source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1214",
            quote="await AssignManagedIdAcrPullToResourceAsync(managedIdentity, acr);",
        ),
        # The database password comes from Key Vault through the secrets-store CSI driver, as the pod's identity.
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            via="secrets-csi",
            source=f"{PG}:21",
            quote="ArgumentException.ThrowIfNullOrEmpty(options.Value.DatabaseUserPassword,",
        ),
        # Our global start task (TES runs it on every node before any task) reads the image scanner's registry
        # credentials from Key Vault as the pool identity (components/start_task.py).
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            principal="batch-node",
            via="start-task",
            condition="imageScanner",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1221-1224",
            quote="DownloadAndExecuteScriptAsync(globalStartTaskSasUrl,",
        ),
        # Pools are placed in the subnet and get the pool identity in the ARM pool body.
        AzureAction(
            action="Microsoft.Network/virtualNetworks/subnets/join/action",
            scope="batch-subnet",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1338",
            quote="SubnetId = new(batchNodesSubnetId),",
        ),
        AzureAction(
            action="Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            scope="workload-identity",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1279-1280",
            quote="result.UserAssignedIdentities.AddRange(identities.ToDictionary(",
        ),
    ),
    egress=(
        # The PostgreSQL host is a name (so are the Batch and blob endpoints).
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve the PostgreSQL, Batch and blob names",
            source=f"{PG}:29",
            quote='$"Host={options.Value.ServerName}{options.Value.ServerNameSuffix};"',
        ),
        Egress(
            to="postgres",
            port=5432,
            why="task store, EF migrations at start",
            source=f"{TES}:src/Tes/Repository/TesTaskPostgreSqlRepository.cs:121",
            quote="dbContext.Database.MigrateAsync(CancellationToken.None).GetAwaiter().GetResult();",
        ),
        Egress(
            to="private-endpoints",
            port=443,
            why="Batch account API and blob (user-delegation key, runner upload)",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:118",
            quote="batchServiceClient = new(serviceClientCredentials) { BatchUrl = batchAccountInformation.BaseUrl };",
        ),
        # Fetched at start (Program.cs:156-158); a failure stops TES (AzureCloudConfig.cs:204). Then ARM lookups of
        # the storage and Batch accounts, quotas, and every pool write.
        Egress(
            to="azure-public",
            port=443,
            fqdns=("management.azure.com",),
            why="cloud metadata at start (fatal if unreachable), ARM lookups, quotas, pool writes",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:171",
            quote='ResourceManagerUrl = "https://management.azure.com/",',
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("login.microsoftonline.com",),
            why="Entra ID: workload identity token exchange for ARM, Batch and Storage tokens",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:71",
            quote='public string LoginEndpointUrl { get; set; } = "https://login.microsoftonline.com";',
        ),
        # Without it TES prices sizes from its bundled list, where unpriced sizes cost 0
        # (components/contracts/tes_6_0_0_vm_selection.py): the allowed list keeps the choice sane either way.
        Egress(
            to="azure-public",
            port=443,
            fqdns=("prices.azure.com",),
            optional=True,
            why="retail prices for choosing the cheapest VM size (optional: falls back to the bundled list)",
            source=f"{TES}:src/Tes.ApiClients/PriceApiClient.cs:21",
            quote='private static readonly Uri ApiEndpoint = new("https://prices.azure.com/api/retail/prices");',
        ),
        # Batch nodes: the start task fetches the runner and scripts from tes-internal by SAS URL, the runner moves
        # blobs and pulls images from the registry, the node agent reaches Batch node management: all through
        # private endpoints (blob, registry, nodeManagement). Nothing else leaves the batch subnet.
        Egress(
            to="private-endpoints",
            port=443,
            principal="batch-node",
            why="runner download (tes-internal), task inputs and outputs, image pulls, node management",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1166",
            quote="DownloadViaWget(await storageAccessProvider.GetInternalTesBlobUrlAsync(NodeTaskRunnerFilename",
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
        # No TES code writes a file (no temp-file or file-write call in TesApi.Web, Tes or CommonUtilities at 6.0.0);
        # the chart runs another UID than the image's user, whose home is on the now read-only root filesystem, so
        # HOME and the runtime's temp dir point at this emptyDir.
        Mount(
            path="/tmp",
            use="writable-home",
            source=f"{TES}:src/Dockerfile-Tes:8",
            quote="adduser --home /home/tes -u 1000 tes",
        ),
    ),
    # The global start task is downloaded and executed directly (DownloadViaWget with execute: true runs the file by
    # its path, BatchScheduler.cs:1236-1245): its own #! line picks the shell.
    start_task=StartTaskRun(
        runner="shebang",
        source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1221-1224",
        quote="DownloadAndExecuteScriptAsync(globalStartTaskSasUrl,",
    ),
    # The node task splits the image at '@' into name and tag, so repo:tag@digest would reach Docker's image create
    # as fromImage=repo:tag with tag=<digest>; repo@digest and repo:tag are the forms the runner pulls as written
    # (Tes.Runner/Docker/DockerExecutor.cs:274-293).
    task_images=TaskImages(
        accepted=frozenset({"tag", "digest"}),
        source=f"{TES}:src/TesApi.Web/Runner/NodeTaskBuilder.cs:200-205",
        quote="var splitByDigest = image.Split('@', 2);",
    ),
    notes=(
        "No Entra credential for Application Insights (Program.cs:69-100): with local auth off, telemetry would be "
        "refused, so none is configured and logs go through Container Insights.",
    ),
)
