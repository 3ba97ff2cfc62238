"""The TES 6.0.0 VM selection model (components/contracts/tes_6_0_0_vm_selection.py) against the decisions of the source
it ports; each test names the line of microsoft/ga4gh-tes@6.0.0 it checks. Sizes and prices are those of the bundled
list (tes_6_0_0_vm_sizes.json): Standard_A1_v2 is 1 core, 2 GiB, 10 GiB local disk, Hyper-V V1 only, $0.041 dedicated
and $0.008 low priority."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from components.contracts import tes_6_0_0_vm_selection as tes
from components.contracts.tes_6_0_0_vm_selection import CoreQuota, TaskResources
from configuration.regions import REGIONS

REPO = Path(__file__).resolve().parents[2]
PLENTY = CoreQuota(per_family_enforced=False, dedicated_total=10_000, low_priority_total=10_000)


def select(task: TaskResources, **options: object) -> tes.Selection:
    defaults: dict[str, object] = {"region": "westeurope", "allowed": None, "quota": PLENTY, "prices": "unreachable"}
    return tes.select_vm(task, **{**defaults, **options})  # type: ignore[arg-type]


def no_vm(task: TaskResources, **options: object) -> str:
    with pytest.raises(tes.NoVmAvailableError) as raised:
        select(task, **options)
    return raised.value.message


# --- defaults: BatchScheduler.cs:61-63, 1372, 1392-1394, 1409 ---------------------------------------------------------


def test_unset_resources_default_to_one_core_two_gb_ten_gb_preemptible() -> None:
    """BatchScheduler.cs:1392-1394 and 1372 `GetValueOrDefault(true)`, as reported by the message of line 1409."""
    message = no_vm(TaskResources(), allowed=["Standard_Nothing"])
    assert "(cores: 1, memory: 2 GB, disk: 10 GB, preemptible: True) for task id task." in message


def test_default_task_fits_exactly_the_smallest_av2_size_without_data_disks() -> None:
    """BatchScheduler.cs:1404-1406: A1_v2 (1 core, 2 GiB, 10 GiB) meets the defaults with its own disk."""
    chosen = select(TaskResources(), allowed=["Standard_A1_v2"])
    assert (chosen.vm.vm_size, chosen.data_disks) == ("Standard_A1_v2", ())
    with pytest.raises(tes.NoVmAvailableError):
        select(TaskResources(cpu_cores=2), allowed=["Standard_A1_v2"])
    with pytest.raises(tes.NoVmAvailableError):
        select(TaskResources(ram_gb=2.5), allowed=["Standard_A1_v2"])


def test_preemptible_unset_picks_the_low_priority_entry_and_false_the_dedicated_one() -> None:
    """BatchScheduler.cs:1372 and 1403 `vm.VM.LowPriority == preemptible`."""
    unset = select(TaskResources(), allowed=["Standard_A1_v2"])
    dedicated = select(TaskResources(preemptible=False), allowed=["Standard_A1_v2"])
    assert (unset.preemptible, unset.cost) == (True, Decimal("0.008"))
    assert (dedicated.preemptible, dedicated.cost) == (False, Decimal("0.041"))


def test_use_preemptible_vms_only_overrides_the_task() -> None:
    """BatchScheduler.cs:1372 `usePreemptibleVmsOnly ||` (BatchScheduling__UsePreemptibleVmsOnly)."""
    chosen = select(TaskResources(preemptible=False), allowed=["Standard_A1_v2"], use_preemptible_only=True)
    assert chosen.preemptible is True


# --- allowed-vm-sizes: ConfigurationUtils.cs:93-121, BatchScheduler.cs:1361 -------------------------------------------


def test_allowed_file_parsing_keeps_names_and_drops_comments_warnings_and_blanks() -> None:
    """ConfigurationUtils.cs:102-110: split at CR and LF, first non-empty piece between '<', trim, skip '#' lines."""
    text = (
        "# lab sizes\r\n"
        "Standard_D2ds_v5\r\n"
        "  standardEDSv5Family  <-- WARNING: This VM size or family is either misspelled\n"
        "\n"
        "<Standard_E2ds_v5\n"
        "Standard_D4ds_v5 # cheap\n"
        "   # indented comment\n"
    )
    assert tes.parse_allowed_vm_sizes(text) == [
        "Standard_D2ds_v5",
        "standardEDSv5Family",
        "Standard_E2ds_v5",  # a line that starts with '<' keeps the name after it
        "Standard_D4ds_v5 # cheap",  # '#' after a name is part of the name
    ]


def test_effective_allowed_intersects_sizes_then_families_and_reports_the_rest() -> None:
    """ConfigurationUtils.cs:112-121: case-insensitive match on sizes, then families; the rest is ignored. Intersect
    keeps one spelling per name and Except compares ordinally, so a second spelling is reported as ignored."""
    entries = [
        "standardDDSv5Family",
        "standard_d2ds_v5",
        "Standard_D2DS_V5",
        "Standard_D4ds_v5 # cheap",
        "Standard_DC1s_v2",
    ]
    allowed, ignored = tes.effective_allowed(entries, "eastus2")
    assert allowed == ["standard_d2ds_v5", "standardDDSv5Family"]
    # DC-series v2 is not offered in eastus2 by the bundled list
    assert ignored == ["Standard_D2DS_V5", "Standard_D4ds_v5 # cheap", "Standard_DC1s_v2"]
    assert tes.effective_allowed(["Standard_DC1s_v2"], "westeurope") == (["Standard_DC1s_v2"], [])


def test_missing_allowed_blob_allows_every_supported_size() -> None:
    """ConfigurationUtils.cs:95-99: no blob, every size of the region's list (distinct)."""
    allowed, ignored = tes.effective_allowed(None, "westeurope")
    sizes = {vm.vm_size for vm in tes.vm_sizes_and_prices("westeurope", "unreachable")}
    assert (set(allowed), len(allowed), ignored) == (sizes, len(sizes), [])


def test_a_list_with_no_supported_name_allows_everything() -> None:
    """The trap: ConfigurationUtils.cs:112-115 yields an empty list and BatchScheduler.cs:1361 `!allowedVmSizes.Any()`
    then allows every size, so a misspelt list behaves exactly like no list."""
    allowed, ignored = tes.effective_allowed(["Standard_D2ds_v6", "standardDDSv6Family"], "westeurope")
    assert (allowed, ignored) == ([], ["Standard_D2ds_v6", "standardDDSv6Family"])
    assert select(TaskResources(), allowed=allowed) == select(TaskResources(), allowed=None)
    assert select(TaskResources(), allowed=allowed).vm.family != "standardDDSv5Family"


def test_allowed_list_matches_size_or_family_case_insensitively() -> None:
    """BatchScheduler.cs:1361: VmSize OR VmFamily, StringComparer.OrdinalIgnoreCase."""
    assert select(TaskResources(), allowed=["STANDARD_a2_V2"]).vm.vm_size == "Standard_A2_v2"
    by_family = select(TaskResources(preemptible=False), allowed=["STANDARDddsV5FAMILY"])
    assert (by_family.vm.vm_size, by_family.cost) == ("Standard_D2ds_v5", Decimal("0.136"))


def test_sizes_left_out_by_the_allowed_list_are_counted_in_the_error() -> None:
    """BatchScheduler.cs:1458-1463."""
    message = no_vm(TaskResources(cpu_cores=2), allowed=["Standard_A1_v2"])
    eligible = [
        vm
        for vm in tes.vm_sizes_and_prices("westeurope", "unreachable")
        if vm.low_priority and (vm.vcpus or 0) >= 2 and (vm.memory_gib or 0) >= 2
    ]
    assert f"Note that {len(eligible)} VM(s), suitable for this task, were excluded by the allowed-vm-sizes" in message
    assert "There are no VM sizes that match" not in message


# --- prices and ties: PriceApiBatchSkuInformationProvider.cs:115-166, BatchScheduler.cs:1417-1424 ---------------------


def test_prices_unreachable_picks_the_first_unpriced_size_in_file_order() -> None:
    """PriceApiBatchSkuInformationProvider.cs:161-166 keeps the unpriced entries, BatchScheduler.cs:1417 costs them 0
    and MinBy (1424) keeps the first: Standard_D16as_v4 comes before Standard_D2as_v4 and Standard_D2s_v3 (sorted as
    text) and so runs a 1-core hello world on 16 cores."""
    for region in ("westeurope", "eastus2"):
        for preemptible in (True, False):
            chosen = select(TaskResources(preemptible=preemptible), region=region)
            assert (chosen.vm.vm_size, chosen.cost, chosen.image_key) == ("Standard_D16as_v4", Decimal(0), "gen2")
    catalogue = tes.vm_sizes_and_prices("westeurope", "unreachable")
    unpriced = [vm.vm_size for vm in catalogue if vm.price_per_hour is None and vm.low_priority]
    assert unpriced.index("Standard_D16as_v4") < unpriced.index("Standard_D2as_v4")


def test_large_task_with_prices_unreachable_gets_the_first_unpriced_size_with_enough_local_disk() -> None:
    """BatchScheduler.cs:1399-1406, 1417: D64as_v4 (512 GiB temp disk) costs 0 with no data disk."""
    chosen = select(TaskResources(cpu_cores=8, ram_gb=32, disk_gb=500, preemptible=False), region="eastus2")
    assert (chosen.vm.vm_size, chosen.data_disks, chosen.generation) == ("Standard_D64as_v4", (), "V2")


def test_live_prices_keep_only_priced_sizes_low_priority_first() -> None:
    """PriceApiBatchSkuInformationProvider.cs:135-159: per dedicated entry, its low-priority copy then itself, each
    only with a price."""
    priced = tes.vm_sizes_and_prices("westeurope", "bundled")
    assert all(vm.price_per_hour is not None for vm in priced)
    assert not any(vm.family == "standardDASv4Family" for vm in priced)
    assert [(vm.vm_size, vm.low_priority) for vm in priced[:2]] == [("Standard_A1_v2", True), ("Standard_A1_v2", False)]
    chosen = select(TaskResources(), prices="bundled")
    assert (chosen.vm.vm_size, chosen.image_key) == ("Standard_A1_v2", "gen1")


def test_equal_prices_are_broken_by_file_order() -> None:
    """BatchScheduler.cs:1424 MinBy: D2d_v5, D2ds_v4 and D2ds_v5 cost the same; the first in the file wins."""
    families = ["standardDDSv5Family", "standardDDSv4Family", "standardDDv5Family"]
    chosen = select(TaskResources(preemptible=False), allowed=families)
    prices = {vm.vm_size: vm.price_per_hour for vm in tes.all_vm_sizes() if not vm.low_priority}
    assert prices["Standard_D2d_v5"] == prices["Standard_D2ds_v4"] == prices["Standard_D2ds_v5"]
    order = [vm.vm_size for vm in tes.all_vm_sizes()]
    assert chosen.vm.vm_size == min(["Standard_D2d_v5", "Standard_D2ds_v4", "Standard_D2ds_v5"], key=order.index)


# --- quota: BatchScheduler.cs:1413-1421, 1468-1483; ArmBatchQuotaProvider.cs:53-74 ------------------------------------


def test_dedicated_per_family_quota_excludes_families_without_an_entry() -> None:
    """BatchScheduler.cs:1475-1480: no per-family entry means no quota when the account enforces per-family quota."""
    quota = CoreQuota(per_family_enforced=True, dedicated_total=100, per_family={"standarddsv3family": 2})
    chosen = select(TaskResources(preemptible=False), quota=quota)
    assert chosen.vm.family == "standardDSv3Family"
    assert chosen.vm.vcpus == 2


def test_dedicated_total_quota_applies_when_per_family_is_not_enforced() -> None:
    """BatchScheduler.cs:1470-1473: the total, whatever the family."""
    quota = CoreQuota(per_family_enforced=False, dedicated_total=2, per_family={"standardDASv4Family": 100})
    chosen = select(TaskResources(preemptible=False), quota=quota)
    assert chosen.vm.vcpus is not None and chosen.vm.vcpus <= 2


def test_low_priority_uses_the_low_priority_total_even_when_per_family_is_enforced() -> None:
    """ArmBatchQuotaProvider.cs:57-59: per-family enforcement is for dedicated cores only."""
    quota = CoreQuota(per_family_enforced=True, dedicated_total=0, per_family={}, low_priority_total=4)
    chosen = select(TaskResources(), quota=quota)
    assert chosen.vm.low_priority and chosen.vm.vcpus is not None and chosen.vm.vcpus <= 4
    with pytest.raises(tes.NoVmAvailableError):
        select(TaskResources(), quota=CoreQuota(per_family_enforced=False, dedicated_total=100, low_priority_total=0))


def test_dedicated_choice_twice_the_ideal_price_falls_back_to_low_priority() -> None:
    """BatchScheduler.cs:1426-1441: quota pushed the choice from A1_v2 ($0.041) to D2ds_v5 ($0.136 >= 2 x 0.041)."""
    quota = CoreQuota(
        per_family_enforced=True, dedicated_total=100, per_family={"standardDDSv5Family": 100}, low_priority_total=100
    )
    chosen = select(TaskResources(preemptible=False), allowed=["standardAv2Family", "standardDDSv5Family"], quota=quota)
    assert (chosen.vm.vm_size, chosen.preemptible, chosen.warning) == (
        "Standard_A1_v2",
        True,
        "UsedLowPriorityInsteadOfDedicatedVm",
    )


def test_no_low_priority_fallback_when_the_ideal_size_has_no_price() -> None:
    """BatchScheduler.cs:1433 compares decimal? prices: null on either side is false, so no fallback."""
    quota = CoreQuota(per_family_enforced=True, dedicated_total=100, per_family={"standardDDSv5Family": 100})
    chosen = select(
        TaskResources(preemptible=False), allowed=["standardDASv4Family", "standardDDSv5Family"], quota=quota
    )
    assert (chosen.vm.vm_size, chosen.preemptible, chosen.warning) == ("Standard_D2ds_v5", False, None)


def test_total_dedicated_quota_is_checked_after_selection() -> None:
    """BatchQuotaVerifier.cs:93-97 (called at BatchScheduler.cs:571): per-family quota chose the size, the account's
    total is too small for it."""
    quota = CoreQuota(per_family_enforced=True, dedicated_total=1, per_family={"standardDDSv5Family": 100})
    with pytest.raises(tes.InsufficientBatchQuotaError, match=r"dedicated cores quota .* requirement of 2"):
        select(TaskResources(preemptible=False), allowed=["standardDDSv5Family"], quota=quota)


# --- retries: BatchScheduler.cs:251-253, 279, 1365-1369, 1422-1423, 1453-1456 -----------------------------------------


def test_previously_failed_sizes_are_excluded_case_insensitively() -> None:
    """BatchScheduler.cs:1422-1423."""
    chosen = select(TaskResources(), allowed=["standardAv2Family"], previously_failed=["STANDARD_A1_V2"])
    assert chosen.vm.vm_size == "Standard_A2_v2"


def test_error_names_the_previously_failed_sizes_once_the_task_has_logs() -> None:
    """BatchScheduler.cs:1453-1456: appended whenever the list exists (a retried task), empty or not."""
    failed = no_vm(TaskResources(), allowed=["Standard_A1_v2"], previously_failed=["Standard_A1_v2", "Standard_A1_v2"])
    assert "on previous attempts: Standard_A1_v2." in failed
    first_attempt = no_vm(TaskResources(cpu_cores=2), allowed=["Standard_A1_v2"])
    assert "previous attempts" not in first_attempt


def test_a_task_gets_four_node_allocations_before_executor_error() -> None:
    """BatchScheduler.cs:279 requeues on NodeAllocationFailed; 251-253 `++tesTask.ErrorCount > 3` ends it."""
    assert tes.node_allocation_failed(2) == (3, "QUEUED")
    assert tes.node_allocation_failed(3) == (4, "EXECUTOR_ERROR")
    assert tes.retry_budget() == 4


# --- image: BatchScheduler.cs:577, 586 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "generation", "image"),
    [("Standard_A1_v2", "V1", "gen1"), ("Standard_D2ds_v5", "V2", "gen2"), ("Standard_DC1s_v2", "V2", "gen2")],
)
def test_gen2_image_for_sizes_that_list_hyper_v_v2(size: str, generation: str, image: str) -> None:
    """BatchScheduler.cs:577,586: V1-only -> gen1; V1+V2 and V2-only -> gen2."""
    chosen = select(TaskResources(), allowed=[size])
    assert (chosen.vm.vm_size, chosen.generation, chosen.image_key) == (size, generation, image)


# --- disks: BatchScheduler.cs:1399-1406, PriceApiBatchSkuInformationProvider.cs:216-246 -------------------------------


def test_disk_beyond_local_adds_data_disks_priced_into_the_cost() -> None:
    """100 GB on A1_v2 (10 GiB local, 2 data disks): two 64 GiB E6 disks (DetermineDisks 225-232)."""
    chosen = select(TaskResources(disk_gb=100, preemptible=False), allowed=["Standard_A1_v2"])
    assert [(d.lun, d.capacity_gib) for d in chosen.data_disks] == [(0, 64), (1, 64)]
    assert chosen.cost == Decimal("0.041") + 2 * Decimal("0.006570977")


def test_no_data_disks_when_their_total_cannot_reach_the_request() -> None:
    """DetermineDisks 225-228: the largest disk (32767 GiB) times 2 is too small; 1406 then drops the size."""
    assert tes.determine_disks(70_000, 2) == ()
    assert tes.determine_disks(100, 0) == ()
    message = no_vm(TaskResources(disk_gb=70_000), allowed=["Standard_A1_v2"])
    assert "disk: 70000 GB" in message


def test_data_disk_count_rounds_up() -> None:
    """DetermineDisks 230-231: 500 GiB over 8 disks -> 64 GiB each, ceil(500 / 64) = 8."""
    assert [d.capacity_gib for d in tes.determine_disks(500, 8)] == [64] * 8


# --- vm_size backend parameter: BatchScheduler.cs:1377-1389 -----------------------------------------------------------


def test_vm_size_backend_parameter_skips_resource_checks() -> None:
    """BatchScheduler.cs:1379-1386: the named size, case-insensitively, at the requested priority only."""
    chosen = select(TaskResources(vm_size="standard_d2ds_v5", cpu_cores=64, disk_gb=5000))
    assert (chosen.vm.vm_size, chosen.vm.vcpus, chosen.data_disks, chosen.preemptible) == (
        "Standard_D2ds_v5",
        2,
        (),
        True,
    )


def test_unknown_vm_size_backend_parameter_fails_with_its_message() -> None:
    """BatchScheduler.cs:1388, 1448-1451."""
    count = len(tes.vm_sizes_and_prices("westeurope", "unreachable"))
    assert no_vm(TaskResources(vm_size="Standard_Nope", preemptible=False), task_id="t1") == (
        f"No VM (out of {count}) available with the required resources (vmsize: Standard_Nope, preemptible: False) "
        "for task id t1. There are no VM sizes that match the requirements. Review the task resources."
    )


def test_regions_outside_the_extract_are_refused() -> None:
    with pytest.raises(ValueError, match="'westcentralus'"):
        tes.vm_sizes_and_prices("westcentralus", "unreachable")


# --- the extract and its generator ------------------------------------------------------------------------------------


def test_extract_covers_the_project_regions_and_records_its_source() -> None:
    raw = json.loads(tes.DATA_FILE.read_text(encoding="utf-8"))
    assert set(raw["$regions"]) == set(REGIONS)
    assert raw["$source"]["tag"] == "6.0.0"
    assert raw["$source"]["vmSizes"]["path"] == "src/TesApi.Web/BatchSupportedVmSizeInformation_AZURECLOUD.json"


def _load_extractor():
    spec = importlib.util.spec_from_file_location("extract_tes_vm_sizes", REPO / "scripts" / "extract_tes_vm_sizes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_extractor_keeps_order_fields_and_price_text_and_records_the_blob(tmp_path: Path) -> None:
    source = tmp_path / "ga4gh-tes"
    (source / "src" / "TesApi.Web").mkdir(parents=True)

    def vm(size: str, low: bool, price: str, regions: list[str]) -> str:
        return (
            f'{{"VmSize":"{size}","VmFamily":"fam","LowPriority":{str(low).lower()},"PricePerHour":{price},'
            '"MemoryInGiB":0.75,"VCpusAvailable":1,"ResourceDiskSizeInGiB":10,"MaxDataDiskCount":2,'
            f'"HyperVGenerations":["V1"],"RegionsAvailable":{json.dumps(regions)},"EncryptionAtHostSupported":false,'
            '"NvmeDiskSizeInGiB":null,"GpusAvailable":null}'
        )

    vms = [vm("Standard_Z2", False, "0.0861", ["westeurope", "ukwest"]), vm("Standard_Z1", True, "null", ["EastUS2"])]
    (source / "src/TesApi.Web/BatchSupportedVmSizeInformation_AZURECLOUD.json").write_text(
        "\ufeff[" + ",".join(vms) + "]"
    )
    (source / "src/TesApi.Web/BatchDataDiskInformation.json").write_text(
        '[{"MeterName":"E1 LRS Disk","CapacityInGiB":4,"PricePerHour":0.0004106861}]'
    )
    _git(source, "init", "-q")
    _git(source, "add", ".")
    _git(source, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "fixture")
    _git(source, "tag", "6.0.0")
    extractor = _load_extractor()

    text = extractor.extract(source, ["westeurope", "eastus2"])
    raw = json.loads(text)
    assert raw["$source"]["vmSizes"]["blob"] == _git(
        source, "hash-object", "src/TesApi.Web/BatchSupportedVmSizeInformation_AZURECLOUD.json"
    )
    assert raw["$regions"] == ["eastus2", "westeurope"]
    assert raw["vmSizes"] == [
        ["Standard_Z2", "fam", False, 0.0861, 0.75, 1, 10, None, 2, ["V1"], ["eastus2"]],
        ["Standard_Z1", "fam", True, None, 0.75, 1, 10, None, 2, ["V1"], ["westeurope"]],
    ]
    assert '"Standard_Z2","fam",false,0.0861,' in text  # the source's number text, one entry per line
    assert raw["dataDisks"] == [["E1 LRS Disk", 4, 0.0004106861]]

    out = tmp_path / "extract.json"
    args = ["--git-dir", str(source), "--out", str(out), "--region", "westeurope", "--region", "eastus2"]
    assert extractor.main(args) == 0
    assert extractor.main([*args, "--check"]) == 0
    out.write_text(text.replace("0.0861", "0.0862"))
    assert extractor.main([*args, "--check"]) == 1
