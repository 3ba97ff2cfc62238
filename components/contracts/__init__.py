"""Runtime contracts: what each workload version needs once deployed, as data, every entry citing the reference source
of that exact version (`owner/repo@tag:path:line`). Tests check the rendered chart and the registered resources against
these tables (tests/contracts/); a failure names the entry and its citation.

Scopes name the resource an Azure action must be granted on, in this project's vocabulary: `storage-account` (the CoA
account), `data-account` (each existing account of config dataStorageAccounts; blob data actions on each of its
listed containers), `batch-account`, `batch-subnet`, `workload-identity` (the identity itself), `key-vault`, `registry`.
Egress destinations: `kube-dns`, `postgres` (the delegated subnet), `private-endpoints` (the endpoint subnet),
`azure-public` (Entra ID, ARM and its metadata endpoint: public addresses through NAT or the hub firewall), or
`pod:<component>` for another pod of the release.

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
    "storage-account", "data-account", "batch-account", "batch-subnet", "workload-identity", "key-vault", "registry"
]
Destination = Literal["kube-dns", "postgres", "private-endpoints", "azure-public"] | str


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
    """An ARM or data action the workload identity performs, on which resource."""

    action: str
    scope: Scope


@dataclass(frozen=True, kw_only=True)
class Egress(Cited):
    """A network destination the pod opens connections to."""

    to: Destination
    port: int
    why: str
    protocol: str = "TCP"


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
    settings: Sequence[Setting] = ()
    containers: Sequence[Container] = ()
    azure_actions: Sequence[AzureAction] = ()
    egress: Sequence[Egress] = ()
    mounts: Sequence[Mount] = ()
    start_task: StartTaskRun | None = None
    task_images: TaskImages | None = None
    notes: Sequence[str] = field(default_factory=tuple)


def all_contracts() -> tuple[Contract, ...]:
    from components.contracts.cromwell_87 import CROMWELL_87
    from components.contracts.tes_6_0_0 import TES_6_0_0
    from components.contracts.triggerservice_6_0_0 import TRIGGERSERVICE_6_0_0

    return (CROMWELL_87, TES_6_0_0, TRIGGERSERVICE_6_0_0)
