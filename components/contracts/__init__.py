"""Runtime contracts: what each workload version needs once deployed, as data, every entry citing the reference source
of that exact version (`owner/repo@tag:path:line`). Tests check the rendered chart and the registered resources against
these tables (tests/contracts/); a failure names the entry and its citation.

Scopes name the resource an Azure action must be granted on, in this project's vocabulary: `storage-account` (the CoA
account), `data-account` (each existing account of config dataStorageAccounts; blob data actions on each of its
listed containers), `batch-account`, `batch-subnet`, `workload-identity` (the identity itself), `key-vault`, `registry`,
`cosmos-account` (the Cosmos DB account of the TES 3.2 generation), `subscription` (the stack's subscription, only for a
read that Azure offers at no narrower scope, such as the VM SKU list).
Egress destinations: `kube-dns`, `postgres` (the delegated subnet), `private-endpoints` (the endpoint subnet),
`azure-public` (Entra ID, ARM and its metadata endpoint: public addresses through NAT or the hub firewall; such an
entry names its `fqdns`, which become the hub firewall's allow-list), or `pod:<component>` for another pod of the
release.

Principals: who acts. `pod` is the workload's own pod (workload identity); `batch-node` is the TES runner on the Batch
pool nodes TES creates (it runs as the pool identity, which this project sets to the same workload identity); `kubelet`
is the AKS node agent pulling the workload's image (kubelet identity). Entries with a `condition` apply only when the
stack turns that option on (e.g. `sharedKeyAccess`: Cromwell's blob filesystem). Which Entra ID principal a `pod` is
depends on the generation (`Contract.pod_identity`): the workload identity (TES 6), or an Entra application whose client
secret the pod reads from Key Vault (TES 3.2); `via="secrets-csi"` entries are always the workload identity, which the
secrets-store CSI driver uses to read the vault.

What a citation points at, by kind: a Setting, the line that reads the key (for a .NET options class, the property or
the `options.Value.<Property>` read; the section binding is named in a comment); a Container, the line naming it; an
AzureAction, the SDK call that performs it; an Egress, the line that opens the connection or names the host to resolve;
a Mount, the line using the path (or, for mounts our chart imposes, see `Mount.use`). `quote` is that line's key text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

# owner/repo@tag:path:line or :line-line (paths without an extension too: src/Dockerfile-Tes)
CITATION = re.compile(r"^[\w.-]+/[\w.-]+@[\w.-]+:[\w./-]*\w:\d+(-\d+)?$")
QUOTE_MAX = 120  # a quote is the key part of one line, not a paste of the source

Scope = Literal[
    "storage-account",
    "data-account",
    "batch-account",
    "batch-subnet",
    "workload-identity",
    "key-vault",
    "registry",
    "cosmos-account",
    "subscription",
]
Destination = Literal["kube-dns", "postgres", "private-endpoints", "azure-public"] | str
# `aks-node` and `acr-build` are the platform's own egress (components/contracts/platform.py); they hold no grants.
Principal = Literal["pod", "batch-node", "kubelet", "aks-node", "acr-build"]
# The identity each principal acts as in this project (components/identity.py).
PRINCIPAL_IDENTITY: dict[str, Literal["workload", "kubelet"]] = {
    "pod": "workload",
    "batch-node": "workload",
    "kubelet": "kubelet",
}
# Stack options that switch entries on (Settings: storage_shared_key_access).
Condition = Literal["sharedKeyAccess", "imageScanner"]


class ContractError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class Cited:
    """`source` cites the reference line(s); `quote` is the text of the cited line that shows the entry (one line, or
    its key part, stripped), copied once while reading the source at that tag, so a test can check that the entry's
    key appears in what it cites (tests/program/test_contract_citations.py)."""

    source: str
    quote: str = ""

    def __post_init__(self) -> None:
        if not CITATION.fullmatch(self.source):
            raise ContractError(f"{self!r}: source must cite owner/repo@tag:path:line, got {self.source!r}")
        quote = self.quote
        if not quote or quote != quote.strip() or len(quote.splitlines()) != 1 or len(quote) >= QUOTE_MAX:
            raise ContractError(
                f"{self!r}: quote must be the key text of the line {self.source} cites: one stripped line, "
                f"1-{QUOTE_MAX - 1} characters, got {quote!r}"
            )


@dataclass(frozen=True, kw_only=True)
class Setting(Cited):
    """An environment variable the container reads, and the shape its value must have (a full-match regex)."""

    name: str
    shape: str


@dataclass(frozen=True, kw_only=True)
class Container(Cited):
    """A blob container that must exist in the CoA storage account."""

    name: str


@dataclass(frozen=True, kw_only=True)
class AzureAction(Cited):
    """An ARM or data action a principal performs, on which resource."""

    action: str
    scope: Scope
    principal: Principal = "pod"
    condition: Condition | None = None
    # How the action is performed: by the workload's own SDK call (cited), or by an agent on its behalf, cited where
    # the reference makes it necessary: `blob-mount` (blobfuse2 with the pod's token, at the mounted path),
    # `secrets-csi` (the Key Vault CSI driver supplying a password the app reads), `image-pull` (the kubelet pulling
    # the workload's image from the registry the reference grants AcrPull on), `start-task` (our global start task,
    # run by TES on every node, reading the image scanner's credentials).
    via: Literal["sdk", "blob-mount", "secrets-csi", "image-pull", "start-task"] = "sdk"


@dataclass(frozen=True, kw_only=True)
class Egress(Cited):
    """A network destination the principal opens connections to. `fqdns` name the hosts behind `azure-public` (the
    hub firewall allows exactly these); `optional` marks a destination the workload runs without, differently.
    `end_port` makes the entry the range port..end_port (a NetworkPolicy `endPort`), for clients that pick the port at
    run time (Cosmos DB direct mode)."""

    to: Destination
    port: int
    why: str
    protocol: str = "TCP"
    principal: Principal = "pod"
    fqdns: tuple[str, ...] = ()
    optional: bool = False
    condition: Condition | None = None
    end_port: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.to == "azure-public") != bool(self.fqdns):
            raise ContractError(f"{self!r}: an azure-public destination names its fqdns, and only it does")
        if not 1 <= self.port <= 65535 or (self.end_port is not None and not self.port < self.end_port <= 65535):
            raise ContractError(f"{self!r}: ports are 1-65535 and end_port, when given, is above port")


# What a Mount's citation shows. `path`: a reference line that uses this path. The other two are mounts our chart
# imposes, cited where the reference makes them necessary: `secret-files`, the Key Vault CSI files that replace a
# plain-text password, cited where the app reads that password; `writable-home`, a writable HOME under the read-only
# root filesystem, cited where the image puts its user's home on that filesystem.
MountUse = Literal["path", "secret-files", "writable-home"]


@dataclass(frozen=True, kw_only=True)
class Mount(Cited):
    """A path the container reads or writes."""

    path: str
    read_only: bool = False
    use: MountUse = "path"


@dataclass(frozen=True, kw_only=True)
class StartTaskRun(Cited):
    """How the Batch node runs the global start task: `shebang` means executed directly, so the script's own #! line
    picks the interpreter; otherwise the named shell runs it."""

    runner: Literal["shebang"] | str
    # Interpreters the script's #! line may name (present on the node images this project configures).
    interpreters: tuple[str, ...] = ("/bin/bash", "/usr/bin/bash", "/usr/bin/env bash")


TaskImageForm = Literal["tag", "digest", "tag+digest"]


@dataclass(frozen=True, kw_only=True)
class TaskImages(Cited):
    """The workflow task image references (`docker` runtime attribute) this component passes on as written:
    `tag` (repo:tag), `digest` (repo@sha256:...), `tag+digest` (repo:tag@sha256:...)."""

    accepted: frozenset[TaskImageForm]


@dataclass(frozen=True, kw_only=True)
class Contract:
    """What one workload version needs at runtime. `workload` is the chart's Deployment (and container) name."""

    workload: str
    version: str
    image_key: str
    listen_port: int
    # The Entra ID principal the pod's own SDK calls run as: the workload identity (federated token), or an Entra
    # application whose client secret reaches the pod from Key Vault (generations whose SDK has no federated flow).
    pod_identity: Literal["workload", "application"] = "workload"
    settings: Sequence[Setting] = ()
    containers: Sequence[Container] = ()
    azure_actions: Sequence[AzureAction] = ()
    egress: Sequence[Egress] = ()
    mounts: Sequence[Mount] = ()
    start_task: StartTaskRun | None = None
    task_images: TaskImages | None = None
    notes: Sequence[str] = field(default_factory=tuple)


# The TES generations a stack can run (configuration/settings.py Generation, chosen by taskDatabase).
GENERATIONS = ("tes6", "tes32")


def contracts_for(generation: str) -> tuple[Contract, ...]:
    """The contracts of what one generation runs: Cromwell 87 with TES and TriggerService 6.0.0 (`tes6`), or with
    CoA 3.2.0's TES and TriggerService (`tes32`, the reduced-assurance generation)."""
    from components.contracts.cromwell_87 import CROMWELL_87

    if generation == "tes6":
        from components.contracts.tes_6_0_0 import TES_6_0_0
        from components.contracts.triggerservice_6_0_0 import TRIGGERSERVICE_6_0_0

        return (CROMWELL_87, TES_6_0_0, TRIGGERSERVICE_6_0_0)
    if generation == "tes32":
        from components.contracts.tes_3_2_0 import TES_3_2_0
        from components.contracts.triggerservice_3_2_0 import TRIGGERSERVICE_3_2_0

        return (CROMWELL_87, TES_3_2_0, TRIGGERSERVICE_3_2_0)
    raise ContractError(f"generation {generation!r}: one of {', '.join(GENERATIONS)}")


def all_contracts() -> tuple[Contract, ...]:
    """The default generation's contracts (TES 6)."""
    return contracts_for("tes6")
