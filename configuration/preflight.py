"""The stack output `preflight`: what scripts/preflight.sh checks on a real subscription, in the shape it reads
(docs/preflight.md). Only names, ids and numbers: nothing secret.

The Batch core needs come from the model of TES's VM choice (components/contracts/tes_6_0_0_vm_selection.py): the
size TES would give the smoke test's hello world (dedicated) and a TSO500-sized task (8 cores, 32 GB, 500 GB; on
Spot, the chart's default), with the stack's allowed sizes in its region, whether or not prices.azure.com answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from components.contracts import tes_6_0_0_vm_selection as tes

# charts/cromwell-on-azure/files/hello.wdl, and the article's TSO500 analysis task on the chart's default (Spot).
SMOKE_TEST_TASK = tes.TaskResources(cpu_cores=1, ram_gb=1, disk_gb=10, preemptible=False)
TSO500_TASK = tes.TaskResources(cpu_cores=8, ram_gb=32, disk_gb=500, preemptible=True)


@dataclass(frozen=True)
class CoreNeeds:
    dedicated: Mapping[str, int]
    low_priority: int


def core_needs(region: str, allowed_vm_sizes: Sequence[str]) -> CoreNeeds:
    """Cores of the largest size TES would choose for each task, per family (dedicated) or in total (low priority),
    over both price cases. Quota is assumed ample here: the point is what the real quota must cover."""
    dedicated: dict[str, int] = {}
    low_priority = 0
    for prices in ("bundled", "unreachable"):
        allowed, _ = tes.effective_allowed(list(allowed_vm_sizes), region, prices)  # type: ignore[arg-type]
        families = {vm.family for vm in tes.vm_sizes_and_prices(region, "unreachable") if tes.allowed_by(allowed, vm)}
        quota = tes.CoreQuota(
            per_family_enforced=True,
            dedicated_total=10**6,
            per_family=dict.fromkeys(families, 10**6),
            low_priority_total=10**6,
        )
        for task in (SMOKE_TEST_TASK, TSO500_TASK):
            chosen = tes.select_vm(task, region=region, allowed=allowed, quota=quota, prices=prices)  # type: ignore[arg-type]
            cores = chosen.vm.vcpus or 0
            if chosen.preemptible:
                low_priority = max(low_priority, cores)
            else:
                dedicated[chosen.vm.family] = max(dedicated.get(chosen.vm.family, 0), cores)
    return CoreNeeds(dedicated=dedicated, low_priority=low_priority)


def host(url: str) -> str:
    """The host of an endpoint URL (https://x.blob.core.windows.net/ -> x.blob.core.windows.net); a bare host as is."""
    return urlparse(url).hostname or url.strip("/") if "://" in url else url.strip("/")


def registry_data_endpoint(login_server: str, location: str) -> str:
    """A registry with dedicated data endpoints serves layers from <name>.<region>.data.azurecr.io."""
    return f"{login_server.split('.', 1)[0]}.{location}.data.azurecr.io"
