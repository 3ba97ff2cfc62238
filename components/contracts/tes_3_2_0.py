"""TES 3.2.0 (microsoft/CromwellOnAzure tag 3.2.0, src/TesApi.Web) at runtime, as this project would run it: tasks in
Cosmos DB, an Entra application credential from Key Vault instead of IMDS, a private Batch account, the CoA storage
account as its default account. The reduced-assurance generation (issue 21): every weakening below is forced by a cited
line, and the wiring must show it as a named guardrail override.

What makes it weaker than TES 6, each cited below:
- Tokens come only from Microsoft.Azure.Services.AppAuthentication's AzureServiceTokenProvider, which has no federated
  (workload identity) flow: RunAs=App with AppKey (a client secret) is the only credential a pod can hold without
  IMDS (`pod_identity="application"`).
- ARM listKeys on the storage account (every SAS is signed with the account key) and on the Cosmos DB account (the
  task store is opened with the primary key): shared-key access and Cosmos local auth stay on.
- Cosmos DB direct mode: TCP to the replicas behind the private endpoint on any port.
- One node image for every VM size (no generation choice) with Docker on the host; the global start task runs as
  `/bin/sh <path>`.
"""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting, StartTaskRun, TaskImages

COA = "microsoft/CromwellOnAzure@3.2.0"
WEB = f"{COA}:src/TesApi.Web"
CHART = f"{COA}:src/deploy-cromwell-on-azure/scripts/helm/templates"
# Microsoft.Azure.Services.AppAuthentication (TesApi.Web.csproj pins 1.6.2), read at the commit the index holds.
APP_AUTH = (
    "Azure/azure-sdk-for-net@010a3edac471b8ca6e273221998c33d8d0e9535f:"
    "sdk/mgmtcommon/AppAuthentication/Azure.Services.AppAuthentication/AzureServiceTokenProvider.cs"
)
ARM_ID = r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
# The connection string is a secret (it carries the client secret): exported by the entrypoint from the Key Vault
# file, never a plain value.
CONNECTION_STRING_FILE = "/mnt/secrets-store/tes-azure-services-auth"
CONNECTION_STRING = 'connectionString = EnvironmentHelper.GetEnvironmentVariable("AzureServicesAuthConnectionString");'
COSMOS_CLIENT = "this.cosmosClient = new CosmosClient(endpoint, key);"

# The node image keys, one per line of BatchScheduler's BatchNodeInfo block. TES 3.2 uses this one image for every VM
# size: the Docker-carrying supported images are generation 2 only (configuration/batch_node_images.py), so the allowed VM
# sizes must all support generation 2.
_IMAGE_KEYS = (
    ("BatchImageOffer", r"[a-z0-9-]+", 91),
    ("BatchImagePublisher", r"[a-z0-9-]+", 92),
    ("BatchImageSku", r"[A-Za-z0-9._-]+", 93),
    ("BatchImageVersion", r"latest|[0-9.]+", 94),
    # The task script runs `docker` on the host and `/bin/bash` (BatchScheduler.cs:735, :768): Ubuntu agents only.
    ("BatchNodeAgentSkuId", r"batch\.node\.ubuntu (22\.04|24\.04)", 95),
)

TES_3_2_0 = Contract(
    workload="tes",
    version="3.2.0",
    image_key="tes",
    # The reference chart binds the Service port inside the pod (tes-deployment.yaml:30-31, port 80); 8080 needs no
    # NET_BIND_SERVICE at run time (the image still carries it as a file capability: see notes).
    listen_port=8080,
    pod_identity="application",
    settings=(
        # Read by ASP.NET Core's host builder (WebHost.CreateDefaultBuilder, Program.cs:32), not by TES code: the
        # citation is where CoA sets it.
        Setting(
            name="ASPNETCORE_URLS",
            shape=r"http://0\.0\.0\.0:8080",
            source=f"{CHART}/tes-deployment.yaml:30",
            quote="- name: ASPNETCORE_URLS",
        ),
        # `new AzureServiceTokenProvider()` (AzureProxy.cs:836) reads it; RunAs=App;AppId;TenantId;AppKey selects the
        # client-secret provider. Without it the provider falls back to IMDS (MSI), which Pod Security keeps away.
        Setting(
            name="AzureServicesAuthConnectionString",
            shape=f"<from {CONNECTION_STRING_FILE}>",
            source=f"{APP_AUTH}:91",
            quote=CONNECTION_STRING,
        ),
        # Looked up by name in every subscription the application can list; TES stops when it is not found.
        Setting(
            name="CosmosDbAccountName",
            shape=r"[a-z0-9][a-z0-9-]{1,42}[a-z0-9]",
            source=f"{WEB}/Startup.cs:75",
            quote='azureProxy.GetCosmosDbEndpointAndKeyAsync(Configuration["CosmosDbAccountName"]).Result;',
        ),
        # FindBatchAccountAsync throws when no listed account has this name (AzureProxy.cs:1022).
        Setting(
            name="BatchAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{WEB}/Startup.cs:68",
            quote='var azureProxy = new AzureProxy(Configuration["BatchAccountName"], azureOfferDurableId,',
        ),
        Setting(
            name="DefaultStorageAccountName",
            shape=r"[a-z0-9]{3,24}",
            source=f"{WEB}/StorageAccessProvider.cs:40",
            quote='this.defaultStorageAccountName = configuration["DefaultStorageAccountName"];',
        ),
        # Goes into the ARM pool body together with the public IP choice (AzureProxy.cs:978-985).
        Setting(
            name="BatchNodesSubnetId",
            shape=ARM_ID + r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+",
            source=f"{WEB}/BatchScheduler.cs:77",
            quote='this.batchNodesSubnetId = GetStringValue(configuration, "BatchNodesSubnetId", string.Empty);',
        ),
        # NoPublicIPAddresses, applied only with a subnet (AzureProxy.cs:982).
        Setting(
            name="DisableBatchNodesPublicIpAddress",
            shape=r"true",
            source=f"{WEB}/BatchScheduler.cs:81",
            quote='GetBoolValue(configuration, "DisableBatchNodesPublicIpAddress", false);',
        ),
        # A blob of the default account; skipped silently when the blob does not exist (BatchScheduler.cs:356-359).
        Setting(
            name="GlobalStartTaskPath",
            shape=r"/configuration/start-task\.sh",
            source=f"{WEB}/BatchScheduler.cs:86",
            quote='"GlobalStartTaskPath", string.Empty), this.defaultStorageAccountName);',
        ),
        # Only with an identity does TES create its own (ARM) pool with that identity and the `/bin/sh` start task
        # (BatchScheduler.cs:344-380); without one it falls back to Batch auto-pools, which carry no identity, so the
        # start task could not read the image scanner's credentials.
        Setting(
            name="GlobalManagedIdentity",
            shape=ARM_ID + r"Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+",
            source=f"{WEB}/BatchScheduler.cs:87",
            quote='this.globalManagedIdentity = GetStringValue(configuration, "GlobalManagedIdentity", string.Empty);',
        ),
        # Nodes pull it with `docker pull` (BatchScheduler.cs:728) and no credentials of TES's: TES treats every
        # registry whose admin keys it cannot list as public. It comes through the stack's registry (cache rule from
        # MCR), which the node's Docker is logged in to by our start task (the AcrPull entry below); by digest once
        # the lock records it (production refuses a pending digest: guardrail unpinnedImages).
        Setting(
            name="BlobxferImageName",
            shape=r"[a-z0-9]{5,50}\.azurecr\.io/blobxfer(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})",
            source=f"{WEB}/BatchScheduler.cs:79",
            quote='GetStringValue(configuration, "BlobxferImageName", "mcr.microsoft.com/blobxfer");',
        ),
        # Sizes or families TES may choose: an entry matches a size or its family (BatchScheduler.cs:1077). The blob
        # configuration/allowed-vm-sizes replaces this list when it has entries (ConfigurationUtils.cs:63-117), so the
        # deployment must not write that blob.
        Setting(
            name="AllowedVmSizes",
            shape=r"(Standard_[A-Za-z0-9_]+|standard[A-Za-z0-9]+Family)(,(Standard_[A-Za-z0-9_]+|standard[A-Za-z0-9]+Family))*",
            source=f"{WEB}/BatchScheduler.cs:75",
            quote='GetStringValue(configuration, "AllowedVmSizes", null)?.Split(',
        ),
        *(
            Setting(
                name=key,
                shape=shape,
                source=f"{WEB}/BatchScheduler.cs:{line}",
                quote=f'{key} = GetStringValue(configuration, "{key}")' + ("" if line == 95 else ","),
            )
            for key, shape, line in _IMAGE_KEYS
        ),
    ),
    containers=(
        # The global start task and TES's VM size files (supported-vm-sizes written at start, allowed-vm-sizes read).
        Container(
            name="configuration",
            source=f"{WEB}/ConfigurationUtils.cs:47",
            quote='var supportedVmSizesFilePath = $"/{defaultStorageAccountName}/configuration/supported-vm-sizes";',
        ),
        # /cromwell-executions/... paths map to this container of the default account; TES 3.2 has no tes-internal.
        Container(
            name="cromwell-executions",
            source=f"{WEB}/StorageAccessProvider.cs:24",
            quote='private const string CromwellPathPrefix = "/cromwell-executions/";',
        ),
    ),
    azure_actions=(
        # Every storage account of every listed subscription; the default account must be among them.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            source=f"{WEB}/AzureProxy.cs:590",
            quote="(await azureClient.WithSubscription(subId).StorageAccounts.ListAsync())",
        ),
        # Every SAS TES hands out (task scripts, inputs, outputs, the start task) is signed with this key
        # (StorageAccessProvider.cs:160-178); blob reads and writes of TES itself go through such SAS URLs.
        AzureAction(
            action="Microsoft.Storage/storageAccounts/listKeys/action",
            scope="storage-account",
            source=f"{WEB}/AzureProxy.cs:608",
            quote="return (await storageAccount.GetKeysAsync())[0].Value;",
        ),
        # /<account>/<container>/... inputs in other accounts: the same lookup and key (so those accounts must accept
        # shared keys too).
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="data-account",
            source=f"{WEB}/AzureProxy.cs:590",
            quote="(await azureClient.WithSubscription(subId).StorageAccounts.ListAsync())",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/listKeys/action",
            scope="data-account",
            source=f"{WEB}/AzureProxy.cs:608",
            quote="return (await storageAccount.GetKeysAsync())[0].Value;",
        ),
        # At start, then the task store is opened with the primary key (Startup.cs:75-76).
        AzureAction(
            action="Microsoft.DocumentDB/databaseAccounts/read",
            scope="cosmos-account",
            source=f"{WEB}/AzureProxy.cs:136",
            quote="azureClient.WithSubscription(subId).CosmosDBAccounts.ListAsync()",
        ),
        AzureAction(
            action="Microsoft.DocumentDB/databaseAccounts/listKeys/action",
            scope="cosmos-account",
            source=f"{WEB}/AzureProxy.cs:145",
            quote="CosmosDBAccounts.ListKeysAsync(account.ResourceGroupName, account.Name)).PrimaryMasterKey;",
        ),
        # The VM sizes of the region, at start (Startup.cs:73 -> ConfigurationUtils.cs:50) and per task; not caught,
        # so TES stops without it. ARM offers this list only per subscription.
        AzureAction(
            action="Microsoft.Compute/skus/read",
            scope="subscription",
            source=f"{WEB}/AzureProxy.cs:768",
            quote="azureClient.WithSubscription(subscriptionId).ComputeSkus.ListbyRegionAndResourceTypeAsync(",
        ),
        # Found by name at start (AzureProxy.cs:72), then read for quotas per task (AzureProxy.cs:78-81).
        AzureAction(
            action="Microsoft.Batch/batchAccounts/read",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:1011",
            quote="new BatchManagementClient(tokenCredentials) { SubscriptionId = subId }.BatchAccount.ListAsync())",
        ),
        # One pool per task, through ARM, with the identity, subnet and start task (AzureProxy.cs:952-985).
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/write",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:989",
            quote="await batchManagementClient.Pool.CreateAsync(batchResourceGroupName, batchAccountName, poolInfo.Name,",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/read",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:177",
            quote="=> batchClient.PoolOperations.ListPools()",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/pools/delete",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:494",
            quote="=> batchClient.PoolOperations.DeletePoolAsync(poolId, cancellationToken: cancellationToken);",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/jobs/write",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:255",
            quote="var job = batchClient.JobOperations.CreateJob(jobId, poolInformation);",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/jobs/read",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:163",
            quote="var lastAttemptNumber = (await batchClient.JobOperations.ListJobs(jobFilter).ToListAsync())",
        ),
        AzureAction(
            action="Microsoft.Batch/batchAccounts/jobs/delete",
            scope="batch-account",
            source=f"{WEB}/AzureProxy.cs:426",
            quote="await batchClient.JobOperations.DeleteJobAsync(job.Id, cancellationToken: cancellationToken);",
        ),
        # The ARM pool body joins the subnet and assigns the pool identity.
        AzureAction(
            action="Microsoft.Network/virtualNetworks/subnets/join/action",
            scope="batch-subnet",
            source=f"{WEB}/AzureProxy.cs:983",
            quote="SubnetId = batchNodesSubnetId",
        ),
        AzureAction(
            action="Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            scope="workload-identity",
            source=f"{WEB}/AzureProxy.cs:973",
            quote="UserAssignedIdentities = identityResourceIds.ToDictionary(x => x,",
        ),
        # The connection string (it holds the client secret) comes from Key Vault through the secrets-store CSI
        # driver, as the pod's workload identity.
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            via="secrets-csi",
            source=f"{APP_AUTH}:91",
            quote=CONNECTION_STRING,
        ),
        # Blobxfer and task images are pulled by the node's Docker without TES's credentials (BatchScheduler.cs:701-736):
        # our global start task logs that Docker in to the stack's registry as the pool identity, which needs AcrPull.
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            principal="batch-node",
            via="start-task",
            source=f"{WEB}/BatchScheduler.cs:352",
            quote="if (!string.IsNullOrWhiteSpace(globalStartTaskPath))",
        ),
        # Our global start task reads the image scanner's registry credentials as the pool identity.
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            principal="batch-node",
            via="start-task",
            condition="imageScanner",
            source=f"{WEB}/BatchScheduler.cs:352",
            quote="if (!string.IsNullOrWhiteSpace(globalStartTaskPath))",
        ),
    ),
    egress=(
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve the Cosmos DB, Batch and blob names (private endpoint records)",
            source=f"{COA}:src/Tes/Repository/CosmosDbRepository.cs:37",
            quote=COSMOS_CLIENT,
        ),
        # Batch account API (BatchClient, AzureProxy.cs:76), SAS blob calls, and the Cosmos DB gateway (metadata).
        Egress(
            to="private-endpoints",
            port=443,
            why="Batch account API, blob reads and writes by SAS, Cosmos DB gateway",
            source=f"{WEB}/StorageAccessProvider.cs:161",
            quote="new StorageAccountUrlSegments(storageAccountInfo.BlobEndpoint, pathSegments.ContainerName,",
        ),
        # CosmosClient without options runs in direct mode: TCP to the partition replicas, which behind a private
        # endpoint may listen on any port (learn.microsoft.com/azure/cosmos-db/nosql/sdk-connection-modes, "Service
        # port ranges"). The wiring narrows this rule to the Cosmos endpoint's addresses.
        Egress(
            to="private-endpoints",
            port=1,
            end_port=65535,
            why="Cosmos DB direct mode: TCP to the replicas behind the private endpoint, on ports chosen at run time",
            source=f"{COA}:src/Tes/Repository/CosmosDbRepository.cs:37",
            quote=COSMOS_CLIENT,
        ),
        # Fixed to the public cloud (AzureEnvironment.AzureGlobalCloud, AzureProxy.cs:845): ARM lookups at start (fatal
        # if unreachable), listKeys, SKUs, pools, and the retail RateCard (falls back to DefaultVmPrices.json).
        Egress(
            to="azure-public",
            port=443,
            fqdns=("management.azure.com",),
            why="ARM at start (fatal if unreachable): account lookups, listKeys, VM SKUs; pool writes",
            source=f"{WEB}/AzureProxy.cs:835",
            quote='private static Task<string> GetAzureAccessTokenAsync(string resource = "https://management.azure.com/")',
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("login.microsoftonline.com",),
            why="Entra ID: client-credential tokens for ARM and Batch",
            source=f"{APP_AUTH}:74",
            quote='string azureAdInstance = "https://login.microsoftonline.com/",',
        ),
        # Batch nodes: resource files, blobxfer transfers and output files by SAS (blob endpoint), node management,
        # and the blobxfer and task images from the stack's registry (so no node needs MCR or Docker Hub).
        Egress(
            to="private-endpoints",
            port=443,
            principal="batch-node",
            why="task scripts, inputs and outputs by SAS (blobxfer), images from the registry, node management",
            source=f"{WEB}/BatchScheduler.cs:666",
            quote='blobxfer download --storage-url \\"$url\\" --local-path \\"$path\\"',
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
        # The chart runs another UID than the image's user, whose home is on the read-only root filesystem.
        Mount(
            path="/tmp",
            use="writable-home",
            source=f"{COA}:src/Dockerfile-Tes:23",
            quote="RUN adduser --home /home/tes -u 1000 tes",
        ),
    ),
    # The ARM pool's start task is `/bin/sh <file>` as the pool-scoped admin auto-user: the script's #! line is ignored,
    # so it must be POSIX sh, or re-execute itself under bash before any bash syntax.
    start_task=StartTaskRun(
        runner="/bin/sh",
        source=f"{WEB}/AzureProxy.cs:902",
        quote='CommandLine = $"/bin/sh {startTaskPath}",',
    ),
    # The reference goes to `docker pull`/`docker run` on the host as written: every form Docker accepts.
    task_images=TaskImages(
        accepted=frozenset({"tag", "digest", "tag+digest"}),
        source=f"{WEB}/BatchScheduler.cs:735",
        quote="docker pull --quiet {executor.Image}",
    ),
    notes=(
        "Cosmos DB local auth must stay on: the task store is opened with the primary key (CosmosDbRepository.cs:37); "
        "it has no Entra ID data-plane path, so the Cosmos DB component's data-plane role assignments do not apply.",
        "Shared-key access must stay on for the CoA storage account (and any data account TES reads): SAS are signed "
        "with the account key (StorageAccessProvider.cs:160-178).",
        "The Cosmos database and container are pre-created by the stack: TES reads before it creates "
        "(CosmosDbRepository.cs:41-42, 132-156), so key-based metadata writes stay off.",
        "Private task images: TES lists registries and their admin credentials (AzureProxy.cs:549-559) and treats any "
        "other registry as public (`docker pull` without login): with ACR admin users off, the start task logs the "
        "pool's auto-user (the user tasks run as, AzureProxy.cs:903, BatchScheduler.cs:780) into the stack's registry "
        "with the pool identity, so task and blobxfer images come from the registry.",
        "The pool's targetNodeCommunicationMode is never set (Microsoft.Azure.Management.Batch 14.0.0, "
        "TesApi.Web.csproj:21): Batch decides (Default) until classic communication retires on 2026-03-31.",
        "The image gives dotnet the file capability cap_net_bind_service+eip (src/Dockerfile-Tes:25): the container "
        "keeps NET_BIND_SERVICE in its bounding set, or exec fails with EPERM.",
        "No Application Insights: ApplicationInsightsAccountName stays unset (instrumentation keys only, "
        "Startup.cs:125-135); at start TES still lists subscriptions through ARM (Program.cs:45, fatal if ARM is "
        "unreachable).",
    ),
)
