"""Cromwell 87 (broadinstitute/cromwell tag 87) as the chart runs it: TES backend, PostgreSQL, executions on the keyless
blob CSI mount of cromwell-executions (the root TES 6 maps to its default account), as CoA 6.0.0 configures it."""

from __future__ import annotations

from components.contracts import AzureAction, Container, Contract, Egress, Mount, Setting, TaskImages

CROMWELL = "broadinstitute/cromwell@87"
COA = "microsoft/CromwellOnAzure@6.0.0"
TES_BACKEND = f"{CROMWELL}:supportedBackends/tes/src/main/scala/cromwell/backend/impl/tes"
COA_CONF = f"{COA}:src/deploy-cromwell-on-azure/scripts/cromwell-application.conf"
COA_VALUES = f"{COA}:src/deploy-cromwell-on-azure/scripts/helm/values-template.yaml"

# Settings named conf:<key> are lines `<key> = <value>` of the rendered cromwell-application.conf.
CROMWELL_87 = Contract(
    workload="cromwell",
    version="87",
    image_key="cromwell",
    listen_port=8000,
    settings=(
        # The full tasks collection URL: Cromwell POSTs tasks to exactly this.
        Setting(
            name="conf:endpoint",
            shape=r'"http://tes\.[a-z0-9-]+\.svc\.cluster\.local/v1/tasks"',
            source=f"{TES_BACKEND}/TesConfiguration.scala:13",
            quote='val endpointURL = configurationDescriptor.backendConfig.getString("endpoint")',
        ),
        # TES 6 rewrites /cromwell-executions/... to its default account; CoA uses this root outside the public cloud
        # (cromwell-application.conf:70-74).
        Setting(
            name="conf:root",
            shape=r'"/cromwell-executions"',
            source=f"{CROMWELL}:backend/src/main/scala/cromwell/backend/io/WorkflowPaths.scala:24",
            quote='config.as[Option[String]]("root").getOrElse(WorkflowPaths.DefaultExecutionRootString)',
        ),
        Setting(
            name="conf:dockerRoot",
            shape=r'"/cromwell-executions"',
            source=f"{TES_BACKEND}/TesWorkflowPaths.scala:14",
            quote='val DockerRootString = config.as[Option[String]]("dockerRoot").getOrElse("/cromwell-executions")',
        ),
        # Read through this constant at TesConfiguration.scala:17-20 (default false).
        Setting(
            name="conf:use_tes_11_preview_backend_parameters",
            shape=r"true",
            source=f"{TES_BACKEND}/TesConfiguration.scala:45",
            quote='final val useBackendParametersKey = "use_tes_11_preview_backend_parameters"',
        ),
        # Slick reads `profile` itself (DatabaseConfig.forConfig, SlickDatabase.scala:60); Cromwell documents the key.
        Setting(
            name="conf:profile",
            shape=r'"slick\.jdbc\.PostgresProfile\$"',
            source=f"{CROMWELL}:docs/Configuring.md:315",
            quote='profile = "slick.jdbc.PostgresProfile$"',
        ),
        Setting(
            name="conf:url",
            shape=r'"jdbc:postgresql://[a-z0-9-]+\.postgres\.database\.azure\.com:5432/cromwell_db\?sslmode=require"',
            source=f"{CROMWELL}:database/sql/src/main/scala/cromwell/database/slick/SlickDatabase.scala:23",
            quote='if (config.hasPath("db.url")) "db.url" else "db.properties.url"',
        ),
        # With lookups on (the default, reference.conf:391-402), every task with a tagged image sends Cromwell to the
        # registry (AzureContainerRegistry flow, with an Entra token) before it starts (JobPreparationActor.scala:
        # 165-169); off, it continues without a hash (:170-172). Call caching is off, so nothing needs the hash.
        Setting(
            name="conf:docker.hash-lookup.enabled",
            shape=r"false",
            source=f"{CROMWELL}:core/src/main/scala/cromwell/core/DockerConfiguration.scala:25",
            quote='val enabled = validate(dockerHashLookupConfig.as[Boolean]("enabled"))',
        ),
        # The default is relative (reference.conf:293, "cromwell-workflow-logs"): it would land in the read-only image;
        # it must be the mounted container.
        Setting(
            name="conf:workflow-log-dir",
            shape=r'"/cromwell-workflow-logs"',
            source=f"{CROMWELL}:core/src/main/scala/cromwell/core/logging/WorkflowLogger.scala:83",
            quote='dir <- workflowConfig.as[Option[String]]("workflow-log-dir") if !dir.isEmpty',
        ),
    ),
    containers=(
        Container(
            name="cromwell-executions",
            source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:126",
            quote='public const string ExecutionsContainerName = "cromwell-executions";',
        ),
        Container(
            name="cromwell-workflow-logs",
            source=f"{COA_CONF}:47",
            quote='workflow-log-dir: "/cromwell-workflow-logs"',
        ),
        # CoA mounts these into Cromwell: inputs as /<account>/inputs (defaultContainers), outputs as /outputs
        # (cromwellContainers). Cromwell does not read `workflows`: TriggerService downloads the workflow files and
        # posts their content (TriggerHostedService.cs:190-207).
        Container(name="inputs", source=f"{COA_VALUES}:80-81", quote="- inputs"),
        Container(name="outputs", source=f"{COA_VALUES}:74-77", quote="- outputs"),
    ),
    azure_actions=(
        # Cromwell reads and writes these paths as files; blobfuse2 moves the bytes with the pod's token.
        *(
            AzureAction(
                action=f"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{verb}",
                scope="storage-account",
                via="blob-mount",
                source=f"{COA_CONF}:73",
                quote='root = "/cromwell-executions"',
            )
            for verb in ("read", "write", "delete")
        ),
        AzureAction(
            action="Microsoft.KeyVault/vaults/secrets/getSecret/action",
            scope="key-vault",
            via="secrets-csi",
            source=f"{COA_CONF}:94",
            quote="db.password = {DatabasePassword}",
        ),
        AzureAction(
            action="Microsoft.ContainerRegistry/registries/pull/read",
            scope="registry",
            principal="kubelet",
            via="image-pull",
            source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1214",
            quote="await AssignManagedIdAcrPullToResourceAsync(managedIdentity, acr);",
        ),
        # With shared keys (cromwell.executionsRoot blob), Cromwell's blob filesystem finds the account through ARM
        # and signs SAS with its first key (cloudSupport AzureUtils.scala:50, :69).
        AzureAction(
            action="Microsoft.Storage/storageAccounts/read",
            scope="storage-account",
            condition="sharedKeyAccess",
            source=f"{CROMWELL}:cloudSupport/src/main/scala/cromwell/cloudsupport/azure/AzureUtils.scala:50",
            quote="def findAzureStorageAccount(storageAccountName: String) = azure.storageAccounts.list.asScala",
        ),
        AzureAction(
            action="Microsoft.Storage/storageAccounts/listKeys/action",
            scope="storage-account",
            condition="sharedKeyAccess",
            source=f"{CROMWELL}:cloudSupport/src/main/scala/cromwell/cloudsupport/azure/AzureUtils.scala:69",
            quote="keys = azureAccount.getKeys.asScala",
        ),
    ),
    egress=(
        # The TES endpoint (and the PostgreSQL JDBC URL) name their hosts.
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve tes and the PostgreSQL FQDN",
            source=f"{TES_BACKEND}/TesConfiguration.scala:13",
            quote='val endpointURL = configurationDescriptor.backendConfig.getString("endpoint")',
        ),
        Egress(
            to="pod:tes",
            port=8080,
            why="TES task API (Service port 80)",
            source=f"{TES_BACKEND}/TesAsyncBackendJobExecutionActor.scala:358",
            quote="HttpRequest(method = HttpMethods.POST, uri = tesEndpoint, entity = entity)",
        ),
        # Liquibase runs before the HTTP port binds (EngineServicesStore.scala:12-13 calls this at start).
        Egress(
            to="postgres",
            port=5432,
            why="workflow store and Liquibase migrations at start",
            source=f"{CROMWELL}:services/src/main/scala/cromwell/services/ServicesStore.scala:11",
            quote="sqlDatabase withConnection LiquibaseUtils.updateSchema(settings)",
        ),
        # Only Cromwell's blob filesystem (shared keys) talks to Azure itself: ARM for the key, Entra ID for that
        # token, the blob endpoint. With the CSI mounts (the default) blobfuse2 does, outside the pod.
        Egress(
            to="azure-public",
            port=443,
            fqdns=("management.azure.com",),
            condition="sharedKeyAccess",
            why="ARM: find the storage account and list its keys (blob filesystem)",
            source=f"{CROMWELL}:cloudSupport/src/main/scala/cromwell/cloudsupport/azure/AzureCredentials.scala:24",
            quote='val tokenScope = "https://management.azure.com/.default"',
        ),
        Egress(
            to="azure-public",
            port=443,
            fqdns=("login.microsoftonline.com",),
            condition="sharedKeyAccess",
            why="Entra ID token for ARM (blob filesystem)",
            source=f"{CROMWELL}:cloudSupport/src/main/scala/cromwell/cloudsupport/azure/AzureCredentials.scala:34",
            quote=".authorityHost(azureProfile.getEnvironment.getActiveDirectoryEndpoint)",
        ),
        Egress(
            to="private-endpoints",
            port=443,
            condition="sharedKeyAccess",
            why="blob endpoint (blob filesystem)",
            source=f"{CROMWELL}:cloudSupport/src/main/scala/cromwell/cloudsupport/azure/AzureUtils.scala:61",
            quote=".endpoint(endpointURL)",
        ),
    ),
    mounts=(
        # Cromwell writes scripts and reads rc/outputs under root; TES sees the same blobs.
        Mount(path="/cromwell-executions", source=f"{COA_CONF}:73", quote='root = "/cromwell-executions"'),
        Mount(
            path="/cromwell-workflow-logs", source=f"{COA_CONF}:47", quote='workflow-log-dir: "/cromwell-workflow-logs"'
        ),
        # java.io.tmpdir, as CoA runs Cromwell.
        Mount(
            path="/cromwell-tmp",
            source=f"{COA}:src/deploy-cromwell-on-azure/scripts/helm/templates/cromwell-deployment.yaml:31",
            quote="java -Djava.io.tmpdir=/cromwell-tmp/ -Dconfig.file=/configuration/cromwell-application.conf",
        ),
        # CoA writes the database password into the config file; the chart puts ${CROMWELL_DB_PASSWORD} there and
        # exports it from the Key Vault file.
        Mount(
            path="/mnt/secrets-store",
            read_only=True,
            use="secret-files",
            source=f"{COA_CONF}:94",
            quote="db.password = {DatabasePassword}",
        ),
    ),
    # DockerImageIdentifier parses repo, :tag and @digest independently (DockerImageIdentifier.scala:53-83) and keeps
    # tag@digest together; a digest makes it skip the hash lookup.
    task_images=TaskImages(
        accepted=frozenset({"tag", "digest", "tag+digest"}),
        source=f"{CROMWELL}:dockerHashing/src/main/scala/cromwell/docker/DockerImageIdentifier.scala:114-116",
        quote='DockerImageIdentifierWithHash(dockerHost, dockerRepo, dockerImage, s"$t@$h", hash)',
    ),
    notes=(
        "The blob filesystem (executionsRoot: blob) signs SAS from the account key (AzureUtils.scala:36-75): it needs "
        "storage.allowSharedKeyAccess and is not the default.",
        "Task images need /bin/bash (job-shell default, StandardAsyncExecutionActor.scala:223-226).",
    ),
)
