"""What the platform under the workloads needs outside the VNet: the AKS nodes and add-ons, and the ACR Tasks agent pool
that builds TES and TriggerService. Not workloads of the chart, so not in all_contracts(); the hub firewall's
allow-list joins these with the workloads' own `azure-public` entries (components/contracts/derive.py).

Each entry cites the documentation source at the commit read (MicrosoftDocs repositories) or the Dockerfile line that
makes the host necessary. Entries name service tags as `tag:<ServiceTag>` where the source gives no host names.
"""

from __future__ import annotations

from components.contracts import Egress

AKS_EGRESS_DOC = "MicrosoftDocs/azure-aks-docs@fb060abe6a8fef960d4c487b543bf7b1e97808fe:articles/aks/outbound-rules-control-egress.md"
AGENT_POOL_DOC = (
    "MicrosoftDocs/azure-management-docs@d923d588901082fa2107de6b2a82d7d05cd95160:"
    "articles/container-registry/tasks-agent-pools.md"
)
TES_DOCKERFILE = "microsoft/ga4gh-tes@6.0.0:src/Dockerfile-Tes"
TRIGGERSERVICE_DOCKERFILE = "microsoft/CromwellOnAzure@6.0.0:src/Dockerfile-TriggerService"


def _aks(line: int, fqdns: tuple[str, ...], why: str, quote: str) -> Egress:
    return Egress(
        to="azure-public",
        port=443,
        principal="aks-node",
        fqdns=fqdns,
        why=why,
        source=f"{AKS_EGRESS_DOC}:{line}",
        quote=quote,
    )


# A private cluster's required FQDN rules (the API server is private: no *.hcp.<region>.azmk8s.io, no 1194/9000).
AKS_NODES: tuple[Egress, ...] = (
    _aks(70, ("mcr.microsoft.com",), "system images (CoreDNS, CSI drivers, add-ons)", "| **`mcr.microsoft.com`**"),
    _aks(
        71,
        ("*.data.mcr.microsoft.com", "mcr-0001.mcr-msedge.net"),
        "MCR content delivery",
        "| **`*.data.mcr.microsoft.com`**, **`mcr-0001.mcr-msedge.net`**",
    ),
    _aks(72, ("management.azure.com",), "Kubernetes operations against ARM", "| **`management.azure.com`**"),
    _aks(
        73, ("login.microsoftonline.com",), "Entra ID (nodes, workload identity)", "| **`login.microsoftonline.com`**"
    ),
    _aks(74, ("packages.microsoft.com",), "cached apt packages (Moby)", "| **`packages.microsoft.com`**"),
    _aks(75, ("acs-mirror.azureedge.net",), "Kubernetes and Azure CNI binaries", "| **`acs-mirror.azureedge.net`**"),
    _aks(76, ("packages.aks.azure.com",), "successor of acs-mirror.azureedge.net", "| **`packages.aks.azure.com`**"),
    # Azure Policy add-on (the image admission policy depends on it).
    _aks(
        256,
        ("data.policy.core.windows.net",),
        "Azure Policy add-on: policies and compliance",
        "**`data.policy.core.windows.net`**",
    ),
    _aks(
        257,
        ("store.policy.core.windows.net",),
        "Azure Policy add-on: Gatekeeper artifacts",
        "**`store.policy.core.windows.net`**",
    ),
    _aks(258, ("dc.services.visualstudio.com",), "Azure Policy add-on telemetry", "**`dc.services.visualstudio.com`**"),
    # Container Insights sends through the private link scope (DCE and workspace); the docs still list the
    # data-collection-rule handlers, which the AMPLS is not documented to cover.
    _aks(
        217,
        ("global.handler.control.monitor.azure.com",),
        "Container Insights: access control service",
        "**`global.handler.control.monitor.azure.com`**",
    ),
    _aks(
        220,
        ("<region>.handler.control.monitor.azure.com",),
        "Container Insights: the cluster's data collection rules",
        "**`<cluster-region-name>.handler.control.monitor.azure.com`**",
    ),
)


def _pool(line: int, tag: str, port: int = 443) -> Egress:
    return Egress(
        to="azure-public",
        port=port,
        principal="acr-build",
        fqdns=(f"tag:{tag}",),
        why=f"ACR Tasks agent pool service dependency ({tag})",
        source=f"{AGENT_POOL_DOC}:{line}",
        quote=f"| Outbound  | TCP      | VirtualNetwork | Any         | {tag}",
    )


# The agent pool's own dependencies, then what `docker build` of the two Dockerfiles fetches.
ACR_BUILD: tuple[Egress, ...] = (
    _pool(99, "AzureKeyVault"),
    _pool(100, "Storage"),
    _pool(101, "EventHub"),
    _pool(102, "AzureActiveDirectory"),
    _pool(103, "AzureMonitor"),
    _pool(103, "AzureMonitor", port=12000),
    Egress(
        to="azure-public",
        port=443,
        principal="acr-build",
        fqdns=("mcr.microsoft.com", "*.data.mcr.microsoft.com"),
        why="the .NET SDK and runtime base images",
        source=f"{TES_DOCKERFILE}:11",
        quote="FROM mcr.microsoft.com/dotnet/sdk:8.0 AS publish",
    ),
    # The build contexts (src/ of each repository) carry no nuget.config: restore uses nuget.org.
    Egress(
        to="azure-public",
        port=443,
        principal="acr-build",
        fqdns=("api.nuget.org",),
        why="NuGet packages restored by dotnet publish",
        source=f"{TES_DOCKERFILE}:14",
        quote='RUN dotnet publish "TesApi.Web/TesApi.Web.csproj" -c Release -r linux-x64',
    ),
    # The .NET images are Debian based; both Dockerfiles upgrade their packages.
    Egress(
        to="azure-public",
        port=80,
        principal="acr-build",
        fqdns=("deb.debian.org",),
        why="Debian packages upgraded in the runtime images (apt, HTTP with signed indexes)",
        source=f"{TRIGGERSERVICE_DOCKERFILE}:6",
        quote="RUN apt update && apt full-upgrade -y && apt autoremove -y",
    ),
)
