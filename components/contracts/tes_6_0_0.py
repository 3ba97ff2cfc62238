"""TES 6.0.0 (microsoft/ga4gh-tes tag 6.0.0) at runtime, as this project runs it: workload identity, PostgreSQL,
a private Batch account, the CoA storage account as its default account."""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting, StartTaskRun, TaskImages

TES = "microsoft/ga4gh-tes@6.0.0"
ARM_ID = r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
NAME = r"[a-z0-9][a-z0-9-]{1,62}"

TES_6_0_0 = Contract(
    workload="tes",
    version="6.0.0",
    image_key="tes",
    # Binds :80 unless ASPNETCORE_URLS says otherwise; the chart moves it to 8080 (no NET_BIND_SERVICE needed).
    listen_port=8080,
    settings=(
        Setting(
            name="ASPNETCORE_URLS", shape=r"http://0\.0\.0\.0:8080", source=f"{TES}:src/TesApi.Web/Program.cs:58-61"
        ),
        # RunAs=Workload selects WorkloadIdentityCredential; an empty value stops TES at start.
        Setting(
            name="AzureServicesAuthConnectionString",
            shape=r"RunAs=Workload;AppId=[0-9a-f-]{36}",
            source=f"{TES}:src/CommonUtilities/AzureServicesConnectionStringCredential.cs:391-405",
        ),
        # The Batch token is requested for the cloud-metadata tenant; Azure.Identity refuses it without this.
        Setting(
            name="AZURE_ADDITIONALLY_ALLOWED_TENANTS",
            shape=r"\*",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:113-115",
        ),
        Setting(
            name="General__AzureCloudName",
            shape=r"AzureCloud|AzureUSGovernment|AzureChinaCloud",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:142-151",
        ),
        Setting(
            name="BatchAccount__AccountName", shape=r"[a-z0-9]{3,24}", source=f"{TES}:src/TesApi.Web/Startup.cs:431-435"
        ),
        Setting(
            name="BatchNodes__SubnetId",
            shape=ARM_ID + r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1333-1339",
        ),
        # Applied only together with SubnetId: NoPublicIPAddresses.
        Setting(
            name="BatchNodes__DisablePublicIpAddress",
            shape=r"true",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1337",
        ),
        Setting(
            name="BatchNodes__GlobalStartTask",
            shape=r"/configuration/start-task\.sh",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:157",
        ),
        # Without a pool identity every task fails with NoManagedIdentityForRunner.
        Setting(
            name="BatchNodes__GlobalManagedIdentity",
            shape=ARM_ID + r"Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+",
            source=f"{TES}:src/TesApi.Web/Runner/TaskToNodeTaskConverter.cs:418",
        ),
        Setting(
            name="BatchScheduling__Prefix",
            shape=r"[a-z0-9]{1,12}",
            source=f"{TES}:src/TesApi.Web/Options/BatchSchedulingOptions.cs:25-27",
        ),
        # TES's own defaults (appsettings.json) are the retired Ubuntu 20.04 images; the node agent must be Ubuntu/CentOS.
        *(
            Setting(
                name=f"{gen}__{key}",
                shape=shape,
                source=f"{TES}:src/TesApi.Web/Options/BatchImageGenerationOptions.cs:14-30",
            )
            for gen in ("BatchImageGen1", "BatchImageGen2")
            for key, shape in (
                ("Publisher", r"[a-z0-9-]+"),
                ("Offer", r"[a-z0-9-]+"),
                ("Sku", r"[A-Za-z0-9._-]+"),
                ("Version", r"latest|[0-9.]+"),
                ("NodeAgentSkuId", r"batch\.node\.(ubuntu (22\.04|24\.04)|centos [0-9.]+)"),
            )
        ),
        Setting(
            name="Storage__DefaultAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{TES}:src/TesApi.Web/Storage/DefaultStorageAccessProvider.cs:224",
        ),
        Setting(
            name="TesPostgreSql__ServerName",
            shape=NAME,
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:15",
        ),
        Setting(
            name="TesPostgreSql__ServerNameSuffix",
            shape=r"\.postgres\.database\.azure\.com",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:16",
        ),
        Setting(
            name="TesPostgreSql__ServerSslMode",
            shape=r"VerifyFull|VerifyCA|Require",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:29-34",
        ),
        Setting(
            name="TesPostgreSql__DatabaseName",
            shape=r"tes_db",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:19",
        ),
        Setting(
            name="TesPostgreSql__DatabaseUserLogin",
            shape=r"[a-z_][a-z0-9_]*",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:20",
        ),
        # The password is exported by the entrypoint from the Key Vault file (never a plain value).
        Setting(
            name="TesPostgreSql__DatabaseUserPassword",
            shape=r"<from /mnt/secrets-store/tes-db-password>",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:21",
        ),
    ),
    containers=(
        # TES uploads its runner here at start and stops if it cannot; it creates no container itself.
        Container(name="tes-internal", source=f"{TES}:src/TesApi.Web/Storage/StorageAccessProvider.cs:27"),
        # Global start task, allowed/supported VM size lists.
        Container(name="configuration", source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:157"),
        # /cromwell-executions/... paths from Cromwell map to this container of the default account.
        Container(
            name="cromwell-executions", source=f"{TES}:src/TesApi.Web/Storage/DefaultStorageAccessProvider.cs:98-102"
        ),
    ),
    azure_actions=(
        # Subscriptions, then every storage account in them: the default account must be found or TES stops.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:424",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:433-435",
        ),
        # A user-delegation SAS carries only what its signer may do with the data.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            scope="storage-account",
            source=f"{TES}:src/TesApi.Web/Storage/DefaultStorageAccessProvider.cs:146-162",
        ),
        # Task inputs/outputs in other accounts (/<account>/<container>/...): the same ARM lookup and a user-delegation
        # SAS signed for that account.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:424",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:433-435",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            scope="data-account",
            source=f"{TES}:src/TesApi.Web/Runner/TaskToNodeTaskConverter.cs:343-345",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/read",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/ArmResourceInformationFinder.cs:56-61",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/write",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:50",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/delete",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:74-75",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/jobs/write",
            scope="batch-account",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:178-182",
        ),
        # The runner on each node pulls task images with the pool identity (GlobalManagedIdentity) when no ACR-pull
        # identity is configured; our registry allows no anonymous pull.
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            source=f"{TES}:src/Tes.Runner/Authentication/CredentialsManager.cs:44-51",
        ),
        # Pools are placed in the subnet and get the pool identity in the ARM pool body.
        AzureAction(
            action="Microsoft.Network/virtualNetworks/subnets/join/action",
            scope="batch-subnet",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1333-1339",
        ),
        AzureAction(
            action="Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            scope="workload-identity",
            source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1322",
        ),
    ),
    egress=(
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve the PostgreSQL, Batch and blob names",
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:29-34",
        ),
        Egress(
            to="postgres",
            port=5432,
            why="task store, EF migrations at start",
            source=f"{TES}:src/Tes/Repository/TesTaskPostgreSqlRepository.cs:121",
        ),
        Egress(
            to="private-endpoints",
            port=443,
            why="Batch account API and blob (user-delegation key, runner upload)",
            source=f"{TES}:src/TesApi.Web/AzureProxy.cs:118",
        ),
        Egress(
            to="azure-public",
            port=443,
            why="cloud metadata (fatal at start), Entra ID tokens, ARM lookups and pool writes",
            source=f"{TES}:src/CommonUtilities/AzureCloudConfig.cs:199-204",
        ),
    ),
    mounts=(
        Mount(
            path="/mnt/secrets-store",
            read_only=True,
            source=f"{TES}:src/Tes/Utilities/PostgresConnectionStringUtility.cs:21",
        ),
        # ASP.NET Core and the runner upload write temporary files.
        Mount(path="/tmp", source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:444-452"),
    ),
    # The global start task is downloaded and executed directly: its own #! line picks the shell.
    start_task=StartTaskRun(runner="shebang", source=f"{TES}:src/TesApi.Web/BatchScheduler.cs:1221-1224"),
    # The node task splits the image at '@' into name and tag, so repo:tag@digest would reach Docker's image create
    # as fromImage=repo:tag with tag=<digest>; repo@digest and repo:tag are the forms the runner pulls as written
    # (Tes.Runner/Docker/DockerExecutor.cs:274-293).
    task_images=TaskImages(
        accepted=frozenset({"tag", "digest"}), source=f"{TES}:src/TesApi.Web/Runner/NodeTaskBuilder.cs:195-211"
    ),
    notes=(
        "No Entra credential for Application Insights (Program.cs:69-100): with local auth off, telemetry would be "
        "refused, so none is configured and logs go through Container Insights.",
        "prices.azure.com is optional: TES falls back to its bundled price list (PriceApiClient.cs:21).",
    ),
)
