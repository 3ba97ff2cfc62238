"""Cromwell 87 (broadinstitute/cromwell tag 87) as the chart runs it: TES backend, PostgreSQL, executions on the keyless
blob CSI mount of cromwell-executions (the root TES 6 maps to its default account), as CoA 6.0.0 configures it."""

from __future__ import annotations

from components.contracts import Container, Contract, Egress, Mount, Setting, TaskImages

CROMWELL = "broadinstitute/cromwell@87"
COA = "microsoft/CromwellOnAzure@6.0.0"

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
            source=f"{CROMWELL}:supportedBackends/tes/src/main/scala/cromwell/backend/impl/tes/TesConfiguration.scala:13",
        ),
        # TES 6 rewrites /cromwell-executions/... to its default account; CoA uses this root outside the public cloud.
        Setting(
            name="conf:root",
            shape=r'"/cromwell-executions"',
            source=f"{COA}:src/deploy-cromwell-on-azure/scripts/cromwell-application.conf:70-74",
        ),
        Setting(
            name="conf:dockerRoot",
            shape=r'"/cromwell-executions"',
            source=f"{CROMWELL}:supportedBackends/tes/src/main/scala/cromwell/backend/impl/tes/TesWorkflowPaths.scala:14-19",
        ),
        Setting(
            name="conf:use_tes_11_preview_backend_parameters",
            shape=r"true",
            source=f"{CROMWELL}:supportedBackends/tes/src/main/scala/cromwell/backend/impl/tes/TesConfiguration.scala:17-20",
        ),
        Setting(
            name="conf:profile",
            shape=r'"slick\.jdbc\.PostgresProfile\$"',
            source=f"{CROMWELL}:docs/Configuring.md:311-325",
        ),
        Setting(
            name="conf:url",
            shape=r'"jdbc:postgresql://[a-z0-9-]+\.postgres\.database\.azure\.com:5432/cromwell_db\?sslmode=require"',
            source=f"{CROMWELL}:database/sql/src/main/scala/cromwell/database/slick/SlickDatabase.scala:57-73",
        ),
        # A relative default would land in the read-only image; it must be the mounted container.
        Setting(
            name="conf:workflow-log-dir",
            shape=r'"/cromwell-workflow-logs"',
            source=f"{CROMWELL}:core/src/main/resources/reference.conf:285-316",
        ),
    ),
    containers=(
        Container(name="cromwell-executions", source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1836"),
        Container(
            name="cromwell-workflow-logs",
            source=f"{COA}:src/deploy-cromwell-on-azure/scripts/cromwell-application.conf:47",
        ),
        Container(name="inputs", source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1836"),
        Container(name="outputs", source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1836"),
        Container(name="workflows", source=f"{COA}:src/deploy-cromwell-on-azure/Deployer.cs:1836"),
    ),
    egress=(
        Egress(
            to="kube-dns",
            port=53,
            protocol="UDP",
            why="resolve tes and the PostgreSQL FQDN",
            source=f"{CROMWELL}:database/sql/src/main/scala/cromwell/database/slick/SlickDatabase.scala:57-73",
        ),
        Egress(
            to="pod:tes",
            port=8080,
            why="TES task API (Service port 80)",
            source=f"{CROMWELL}:supportedBackends/tes/src/main/scala/cromwell/backend/impl/tes/TesAsyncBackendJobExecutionActor.scala:358",
        ),
        # Liquibase runs before the HTTP port binds.
        Egress(
            to="postgres",
            port=5432,
            why="workflow store and Liquibase migrations at start",
            source=f"{CROMWELL}:engine/src/main/scala/cromwell/server/CromwellRootActor.scala:84-98",
        ),
    ),
    mounts=(
        # Cromwell writes scripts and reads rc/outputs under root; TES sees the same blobs.
        Mount(
            path="/cromwell-executions",
            source=f"{CROMWELL}:backend/src/main/scala/cromwell/backend/io/WorkflowPaths.scala:23-47",
        ),
        Mount(path="/cromwell-workflow-logs", source=f"{CROMWELL}:core/src/main/resources/reference.conf:285-316"),
        Mount(path="/cromwell-tmp", source=f"{CROMWELL}:core/src/main/resources/reference.conf:285-316"),
        Mount(
            path="/mnt/secrets-store",
            read_only=True,
            source=f"{CROMWELL}:database/sql/src/main/scala/cromwell/database/slick/SlickDatabase.scala:57-73",
        ),
    ),
    # DockerImageIdentifier parses repo, :tag and @digest independently; a digest makes it skip the hash lookup.
    task_images=TaskImages(
        accepted=frozenset({"tag", "digest", "tag+digest"}),
        source=f"{CROMWELL}:dockerHashing/src/main/scala/cromwell/docker/DockerImageIdentifier.scala:53-117",
    ),
    notes=(
        "The blob filesystem (executionsRoot: blob) signs SAS from the account key (AzureUtils.scala:36-75): it needs "
        "storage.allowSharedKeyAccess and is not the default.",
        "Task images need /bin/bash (job-shell default, StandardAsyncExecutionActor.scala:223-226).",
    ),
)
