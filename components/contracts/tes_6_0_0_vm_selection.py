"""TES 6.0.0's run-time choice of a Batch VM size and node image for a task, as an executable model.

Ported from microsoft/ga4gh-tes@6.0.0 (commit 448600041330bf9891f1fe4dca939ed99631acb1): BatchScheduler.GetVmSizeAsync,
the price/SKU provider it reads, the allowed-vm-sizes file and the core quota it filters by, and what happens after a
node allocation failure. Every branch cites the line it ports. The data is the extract beside this module
(tes_6_0_0_vm_sizes.json, from the list TES ships in its image; scripts/extract_tes_vm_sizes.py regenerates it).

Prices: TES asks the Azure retail prices API at run time (cached a day). That cannot be reproduced offline, so
`prices` chooses between the two cases the code has:
- "unreachable": the API failed or answered nothing. TES uses the bundled list as is: both priorities, the bundled
  prices, a missing price costs 0, so the unpriced sizes win, in file order (MinBy keeps the first minimum).
- "bundled": the API answered. TES then keeps only the sizes the API prices; this approximates the live prices with the
  bundled ones (a size with no bundled price is dropped), so relative prices, not today's, decide.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

DATA_FILE = Path(__file__).with_name("tes_6_0_0_vm_sizes.json")

Prices = Literal["bundled", "unreachable"]

# microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:61-63 (used when the task leaves a resource unset)
DEFAULT_CORE_COUNT = 1
DEFAULT_MEMORY_GB = 2.0
DEFAULT_DISK_GB = 10.0

# microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:251 `++tesTask.ErrorCount > 3`
MAX_ERROR_COUNT = 3

# microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/PriceApiBatchSkuInformationProvider.cs:232 (added data disks)
DATA_DISK_STORAGE_TYPE = "StandardSSD_LRS"
DATA_DISK_CACHING = "ReadOnly"


class NoVmAvailableError(Exception):
    """AzureBatchVirtualMachineAvailabilityException: the task ends in SYSTEM_ERROR, failure reason NoVmSizeAvailable
    (microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:654-658)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsufficientBatchQuotaError(Exception):
    """AzureBatchLowQuotaException from the quota check after selection: SYSTEM_ERROR, InsufficientBatchQuota
    (microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:571,647-652)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, kw_only=True)
class TaskResources:
    """The TES task's `resources` (microsoft/ga4gh-tes@6.0.0:src/Tes/Models/TesResources.cs:40-61); `vm_size` is the
    `vm_size` backend parameter (TesResources.cs:33, read by src/Tes/Extensions/TesTaskExtensions.cs:174-175)."""

    cpu_cores: int | None = None
    ram_gb: float | None = None
    disk_gb: float | None = None
    preemptible: bool | None = None
    vm_size: str | None = None


@dataclass(frozen=True, kw_only=True)
class VmSize:
    """One entry of the bundled list (microsoft/ga4gh-tes@6.0.0:src/Tes/Models/VirtualMachineInfo.cs:19-85)."""

    vm_size: str
    family: str
    low_priority: bool
    price_per_hour: Decimal | None
    memory_gib: float | None
    vcpus: int | None
    resource_disk_gib: float | None
    nvme_disk_gib: float | None
    max_data_disk_count: int | None
    hyper_v_generations: tuple[str, ...] | None
    not_in_regions: frozenset[str] = frozenset()

    @property
    def local_disk_gib(self) -> float:
        # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1399
        return max(self.nvme_disk_gib or 0.0, self.resource_disk_gib or 0.0)


@dataclass(frozen=True, kw_only=True)
class DataDisk:
    """A data disk TES adds to a pool whose nodes' local disk is too small (src/Tes/Models/VmDataDisks.cs)."""

    lun: int
    capacity_gib: int
    price_per_hour: Decimal


@dataclass(frozen=True, kw_only=True)
class CoreQuota:
    """The Batch account's core quotas as ARM reports them, a missing number being 0
    (microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/ArmBatchQuotaProvider.cs:101-105). Per-family quotas count
    only for dedicated nodes when the account enforces them; low-priority nodes count against the low-priority total
    (ArmBatchQuotaProvider.cs:53-74). Quotas are limits, not what is free: usage is not considered here."""

    per_family_enforced: bool
    dedicated_total: int
    per_family: Mapping[str, int] = field(default_factory=dict)
    low_priority_total: int = 0

    def sufficient(self, vm: VmSize, *, low_priority: bool) -> bool:
        # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1468-1483 IsThereSufficientCoreQuota
        if vm.vcpus is None:
            return False  # C# lifted comparison with null is false
        if low_priority or not self.per_family_enforced:
            return (self.low_priority_total if low_priority else self.dedicated_total) >= vm.vcpus
        # FirstOrDefault by family name, case-insensitively; no entry means no quota (BatchScheduler.cs:1475-1480)
        quota = next((q for name, q in self.per_family.items() if name.upper() == vm.family.upper()), None)
        return quota is not None and quota >= vm.vcpus


@dataclass(frozen=True, kw_only=True)
class Selection:
    vm: VmSize
    data_disks: tuple[DataDisk, ...]
    generation: Literal["V1", "V2"]
    image_key: Literal["gen1", "gen2"]
    preemptible: bool
    cost: Decimal
    warning: str | None = None


@dataclass(frozen=True)
class _Candidate:
    vm: VmSize
    data_disks: tuple[DataDisk, ...]

    @property
    def cost(self) -> Decimal:
        # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1417 `(vm.VM.PricePerHour ?? 0M) + disks`
        return (self.vm.price_per_hour or Decimal(0)) + sum((d.price_per_hour for d in self.data_disks), Decimal(0))


@dataclass(frozen=True)
class _Data:
    regions: frozenset[str]
    vm_sizes: tuple[VmSize, ...]
    disks: tuple[tuple[int, Decimal], ...]  # (CapacityInGiB, PricePerHour) in file order


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@functools.cache
def _data() -> _Data:
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    columns = raw["vmSizeColumns"]
    vms = []
    for row in raw["vmSizes"]:
        e = dict(zip(columns, row, strict=True))
        price = e["PricePerHour"]
        vms.append(
            VmSize(
                vm_size=e["VmSize"],
                family=e["VmFamily"],
                low_priority=e["LowPriority"],
                price_per_hour=None if price is None else Decimal(price),
                memory_gib=_number(e["MemoryInGiB"]),
                vcpus=e["VCpusAvailable"],
                resource_disk_gib=_number(e["ResourceDiskSizeInGiB"]),
                nvme_disk_gib=_number(e["NvmeDiskSizeInGiB"]),
                max_data_disk_count=e["MaxDataDiskCount"],
                hyper_v_generations=None if e["HyperVGenerations"] is None else tuple(e["HyperVGenerations"]),
                not_in_regions=frozenset(e["NotInRegions"]),
            )
        )
    disk_columns = raw["dataDiskColumns"]
    disks = []
    for row in raw["dataDisks"]:
        d = dict(zip(disk_columns, row, strict=True))
        disks.append((int(d["CapacityInGiB"]), Decimal(d["PricePerHour"])))
    return _Data(frozenset(raw["$regions"]), tuple(vms), tuple(disks))


def all_vm_sizes() -> tuple[VmSize, ...]:
    """Every entry of the extract, in the bundled file's order."""
    return _data().vm_sizes


def vm_sizes_and_prices(region: str, prices: Prices) -> list[VmSize]:
    """What GetVmSizesAndPricesAsync returns for the Batch account's region."""
    data = _data()
    region = region.lower()
    if region not in data.regions:
        raise ValueError(f"region {region!r}: the extract covers only {sorted(data.regions)}")
    # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/PriceApiBatchSkuInformationProvider.cs:115-117 region filter
    local = [vm for vm in data.vm_sizes if region not in vm.not_in_regions]
    if prices == "unreachable":
        # PriceApiBatchSkuInformationProvider.cs:127-131 (no items) and 161-166 (exception): the local list as is
        return local
    # PriceApiBatchSkuInformationProvider.cs:135-159: per dedicated local entry, a low-priority copy when a " Low
    # Priority" price exists, then the dedicated one when its price exists; unpriced sizes are left out.
    low_priority_price = {vm.vm_size: vm.price_per_hour for vm in local if vm.low_priority}
    priced: list[VmSize] = []
    for vm in local:
        if vm.low_priority:
            continue
        if low_priority_price.get(vm.vm_size) is not None:
            priced.append(replace(vm, low_priority=True, price_per_hour=low_priority_price[vm.vm_size]))
        if vm.price_per_hour is not None:
            priced.append(vm)
    return priced


def determine_disks(required_gib: float, max_data_disk_count: int) -> tuple[DataDisk, ...]:
    """Data disks TES adds so that `required_gib` fits; none if the VM size cannot hold enough of them.
    microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/PriceApiBatchSkuInformationProvider.cs:216-246 DetermineDisks,
    over the bundled disk list without zero capacities (line 183)."""
    if max_data_disk_count <= 0:
        return ()  # line 218-221
    by_size = {capacity: price for capacity, price in _data().disks if capacity > 0}

    def smallest_at_least(request: float) -> int:  # lines 235-245: else the largest
        fitting = [size for size in by_size if size >= request]
        return min(fitting) if fitting else max(by_size)

    if smallest_at_least(required_gib) * max_data_disk_count < required_gib:
        return ()  # lines 225-228
    per_disk = smallest_at_least(required_gib / max_data_disk_count)  # line 230
    # line 231: Math.Round(..., MidpointRounding.ToPositiveInfinity) is directed rounding up, i.e. the ceiling
    count = math.ceil(required_gib / per_disk)
    return tuple(DataDisk(lun=i, capacity_gib=per_disk, price_per_hour=by_size[per_disk]) for i in range(count))


def parse_allowed_vm_sizes(text: str) -> list[str]:
    """The entries of tes-internal/configuration/allowed-vm-sizes, duplicates kept.
    microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/ConfigurationUtils.cs:102-110: split at every CR and LF; keep the first
    non-empty trimmed piece between '<' (TES writes '<-- WARNING' after names it ignores, so '<' starts a note, but a
    line that begins with '<' keeps what follows it); skip blank lines and lines starting with '#'. A '#' after a name
    is NOT a comment: 'Standard_D2s_v3 # cheap' is one unknown name."""
    entries = []
    for line in text.replace("\r", "\n").split("\n"):
        pieces = [piece.strip() for piece in line.split("<")]
        entry = next((piece for piece in pieces if piece), "").strip()
        if entry and not entry.startswith("#"):
            entries.append(entry)
    return entries


def _intersect_ignore_case(first: Sequence[str], second: Sequence[str]) -> list[str]:
    # Enumerable.Intersect(first, second, OrdinalIgnoreCase): elements of `first`, first occurrence per key only
    remaining = {s.upper() for s in second}
    result = []
    for item in first:
        if item.upper() in remaining:
            remaining.discard(item.upper())
            result.append(item)
    return result


def effective_allowed(
    entries: Sequence[str] | None, region: str, prices: Prices = "unreachable"
) -> tuple[list[str], list[str]]:
    """(allowed and supported, ignored) as TES computes them from the parsed file for the Batch account's region.
    `entries=None` is a missing blob. An empty first list means EVERY size is allowed (BatchScheduler.cs:1361)."""
    supported = vm_sizes_and_prices(region, prices)
    if entries is None:
        # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/ConfigurationUtils.cs:95-99 no blob: every supported size
        return list(dict.fromkeys(vm.vm_size for vm in supported)), []
    # ConfigurationUtils.cs:112-115 sizes then families, case-insensitively; Union/Distinct are ordinal
    by_size = _intersect_ignore_case(entries, [vm.vm_size for vm in supported])
    by_family = _intersect_ignore_case(entries, [vm.family for vm in supported])
    allowed = list(dict.fromkeys([*by_size, *by_family]))
    # ConfigurationUtils.cs:117-121: the rest (Except: ordinal, distinct) is logged as a warning and ignored
    ignored = [e for e in dict.fromkeys(entries) if e not in allowed]
    return allowed, ignored


def allowed_by(allowed: Sequence[str] | None, vm: VmSize) -> bool:
    # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1361: null or empty list allows everything; else the
    # size OR the family must be listed, case-insensitively
    if not allowed:
        return True
    names = {a.upper() for a in allowed}
    return vm.vm_size.upper() in names or vm.family.upper() in names


def _cs(value: float | int) -> str:
    """A number as C# formats it in an interpolated string (2.0 -> "2")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def select_vm(
    task: TaskResources,
    *,
    region: str,
    allowed: Sequence[str] | None,
    quota: CoreQuota,
    prices: Prices,
    use_preemptible_only: bool = False,
    previously_failed: Sequence[str] | None = None,
    task_id: str = "task",
) -> Selection:
    """The VM size, data disks and node image TES 6.0.0 gives `task`, or the error it ends the task with.
    `allowed` is the effective list (effective_allowed()[0]); `previously_failed` the sizes of earlier attempts that
    ended in NodeAllocationFailed, None before the task's first attempt (it has no logs yet)."""
    candidate, warning = _get_vm_size(
        task,
        region=region,
        allowed=allowed,
        quota=quota,
        prices=prices,
        use_preemptible_only=use_preemptible_only,
        previously_failed=previously_failed,
        task_id=task_id,
        force_preemptible=False,
    )
    vm = candidate.vm
    _check_batch_account_quota(vm, quota)
    # microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:577,586: the gen2 image when the size lists Hyper-V
    # generation "V2" (case-insensitively), the gen1 image otherwise (also when the list is missing)
    gen2 = any(g.upper() == "V2" for g in vm.hyper_v_generations or ())
    return Selection(
        vm=vm,
        data_disks=candidate.data_disks,
        generation="V2" if gen2 else "V1",
        image_key="gen2" if gen2 else "gen1",
        preemptible=vm.low_priority,  # the pool is low priority exactly when the size is (BatchScheduler.cs:580)
        cost=candidate.cost,
        warning=warning,
    )


def _get_vm_size(
    task: TaskResources,
    *,
    region: str,
    allowed: Sequence[str] | None,
    quota: CoreQuota,
    prices: Prices,
    use_preemptible_only: bool,
    previously_failed: Sequence[str] | None,
    task_id: str,
    force_preemptible: bool,
) -> tuple[_Candidate, str | None]:
    """microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1358-1466 GetVmSizeAsync."""
    # BatchScheduler.cs:1365-1369 sizes from earlier NodeAllocationFailed attempts, distinct
    failed = None if previously_failed is None else list(dict.fromkeys(previously_failed))
    catalogue = vm_sizes_and_prices(region, prices)  # BatchScheduler.cs:1371
    # BatchScheduler.cs:1372: an unset `preemptible` means preemptible (GetValueOrDefault(true))
    preemptible = force_preemptible or use_preemptible_only or (task.preemptible is None or task.preemptible)

    if task.vm_size is not None and task.vm_size.strip():
        # BatchScheduler.cs:1379-1389: the named size at the requested priority, case-insensitively; no resource
        # checks, no data disks
        eligible = [
            _Candidate(vm, ())
            for vm in catalogue
            if vm.low_priority == preemptible and vm.vm_size.upper() == task.vm_size.upper()
        ]
        message = (
            f"No VM (out of {len(catalogue)}) available with the required resources (vmsize: {task.vm_size}, "
            f"preemptible: {preemptible}) for task id {task_id}."
        )
    else:
        # BatchScheduler.cs:1392-1394: defaults for unset resources
        cores = DEFAULT_CORE_COUNT if task.cpu_cores is None else task.cpu_cores
        memory = DEFAULT_MEMORY_GB if task.ram_gb is None else task.ram_gb
        disk = DEFAULT_DISK_GB if task.disk_gb is None else task.disk_gb
        eligible = []
        for vm in catalogue:
            # BatchScheduler.cs:1399-1401: data disks when the node's larger local disk (NVMe or resource) is too small
            disks = determine_disks(disk, vm.max_data_disk_count or 0) if vm.local_disk_gib < disk else ()
            # BatchScheduler.cs:1403-1406; an unknown core count or memory never qualifies (lifted comparison)
            if (
                vm.low_priority == preemptible
                and vm.vcpus is not None
                and vm.vcpus >= cores
                and vm.memory_gib is not None
                and vm.memory_gib >= memory
                and (disks or vm.local_disk_gib >= disk)
            ):
                eligible.append(_Candidate(vm, disks))
        message = (
            f"No VM (out of {len(catalogue)}) available with the required resources (cores: {cores}, memory: "
            f"{_cs(memory)} GB, disk: {_cs(disk)} GB, preemptible: {preemptible}) for task id {task_id}."
        )

    def not_failed(c: _Candidate) -> bool:
        return failed is None or c.vm.vm_size.upper() not in {f.upper() for f in failed}

    # BatchScheduler.cs:1413-1415 quota for the requested priority; 1419-1424 allowed, quota, not failed, then
    # MinBy(Cost), which keeps the FIRST of equal costs: file order breaks ties (Python's min does the same)
    usable = [
        c
        for c in eligible
        if allowed_by(allowed, c.vm) and quota.sufficient(c.vm, low_priority=preemptible) and not_failed(c)
    ]
    selected = min(usable, key=lambda c: c.cost, default=None)

    if not preemptible and selected is not None:
        # BatchScheduler.cs:1426-1441: the cheapest allowed size regardless of quota; if quota pushed the choice to
        # at least twice its price, start again with low-priority sizes only. Prices only (no disks), and a missing
        # price on either side makes the comparison false (C# lifted decimal?), so unpriced sizes never trigger it.
        ideal = min((c for c in eligible if allowed_by(allowed, c.vm) and not_failed(c)), key=lambda c: c.cost)
        chosen, ideal_price = selected.vm.price_per_hour, ideal.vm.price_per_hour
        if chosen is not None and ideal_price is not None and chosen >= ideal_price * 2:
            candidate, _ = _get_vm_size(
                task,
                region=region,
                allowed=allowed,
                quota=quota,
                prices=prices,
                use_preemptible_only=use_preemptible_only,
                previously_failed=previously_failed,
                task_id=task_id,
                force_preemptible=True,
            )
            return candidate, "UsedLowPriorityInsteadOfDedicatedVm"

    if selected is not None:
        return selected, None  # BatchScheduler.cs:1443-1446

    if not eligible:  # BatchScheduler.cs:1448-1451
        message += " There are no VM sizes that match the requirements. Review the task resources."
    if failed is not None:
        # BatchScheduler.cs:1453-1456: appended whenever the task has logs, even with nothing excluded
        message += (
            " The following VM sizes were excluded from consideration because of NodeAllocationFailed error(s) on "
            f"previous attempts: {', '.join(failed)}."
        )
    excluded = sum(1 for c in eligible if not allowed_by(allowed, c.vm))  # BatchScheduler.cs:1458-1463
    if excluded > 0:
        message += (
            f" Note that {excluded} VM(s), suitable for this task, were excluded by the allowed-vm-sizes configuration."
            " Consider expanding the list of allowed VM sizes."
        )
    raise NoVmAvailableError(message.strip())  # BatchScheduler.cs:1465


def _check_batch_account_quota(vm: VmSize, quota: CoreQuota) -> None:
    """microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/BatchQuotaVerifier.cs:64-103, run on the chosen size
    (BatchScheduler.cs:571). The per-family check repeats GetVmSizeAsync's filter; the total check is new when the
    account enforces per-family quotas. The pool and job count checks (lines 105-118) depend on live usage and leave
    the task queued: not modelled."""
    cores = vm.vcpus or 0
    total = quota.low_priority_total if vm.low_priority else quota.dedicated_total
    kind = "low priority" if vm.low_priority else "dedicated"
    if cores > total:
        raise InsufficientBatchQuotaError(
            f"Azure Batch Account does not have enough {kind} cores quota to run a workflow with cpu core requirement"
            f" of {cores}."
        )


def node_allocation_failed(error_count: int) -> tuple[int, Literal["QUEUED", "EXECUTOR_ERROR"]]:
    """The task's error count and next state after its node could not be allocated.
    microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:279 NodeAllocationFailed -> DeleteBatchTaskAndRequeue,
    lines 250-253: `++tesTask.ErrorCount > 3` ends the task in EXECUTOR_ERROR ("Retry count exceeded"), otherwise it
    is queued again and the next attempt excludes the failed size (lines 1365-1369, 1422-1423)."""
    error_count += 1
    return error_count, "EXECUTOR_ERROR" if error_count > MAX_ERROR_COUNT else "QUEUED"


def retry_budget() -> int:
    """How many node allocations a task gets when every one fails: the 4th failure ends it. ErrorCount is shared: a
    requeue for a missing job or auto-pool (BatchScheduler.cs:284,287) and an exception while processing the task
    (microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Scheduler.cs:133) spend the same budget."""
    count, attempts = 0, 0
    while True:
        attempts += 1
        count, state = node_allocation_failed(count)
        if state == "EXECUTOR_ERROR":
            return attempts
