#!/usr/bin/env python3
"""Regenerate components/contracts/tes_6_0_0_vm_sizes.json from a microsoft/ga4gh-tes git directory.

    scripts/extract_tes_vm_sizes.py --git-dir <ga4gh-tes checkout or bare mirror>           write the extract
    scripts/extract_tes_vm_sizes.py --git-dir <ga4gh-tes checkout or bare mirror> --check   exit 1 if it differs

Reads, at the tag, the VM size list TES 6.0.0 ships next to its binary and the data disk list, with `git show`, so a
bare mirror works as well as a checkout. Keeps the fields tes_6_0_0_vm_selection reads, every entry in the original
order (TES breaks price ties by file order), one row per entry under a column header, and restricts each entry's
regions to this project's REGIONS, written as the regions it is NOT offered in (most sizes are offered in all).
The `$source` header records the commit and each file's git blob sha: `git rev-parse 6.0.0:<path>` on any clone
shows whether the extract came from that exact file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "components" / "contracts" / "tes_6_0_0_vm_sizes.json"
TAG = "6.0.0"
VM_SIZES_PATH = "src/TesApi.Web/BatchSupportedVmSizeInformation_AZURECLOUD.json"
DATA_DISKS_PATH = "src/TesApi.Web/BatchDataDiskInformation.json"
# The fields of VirtualMachineInformation (src/Tes/Models/VirtualMachineInfo.cs) the selection reads; RegionsAvailable
# becomes NotInRegions. EncryptionAtHostSupported and GpusAvailable play no part in the choice.
VM_FIELDS = (
    "VmSize",
    "VmFamily",
    "LowPriority",
    "PricePerHour",
    "MemoryInGiB",
    "VCpusAvailable",
    "ResourceDiskSizeInGiB",
    "NvmeDiskSizeInGiB",
    "MaxDataDiskCount",
    "HyperVGenerations",
)
DISK_FIELDS = ("MeterName", "CapacityInGiB", "PricePerHour")


class ExtractError(RuntimeError):
    pass


def _git(git_dir: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(git_dir), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ExtractError(f"git {' '.join(args)} in {git_dir}: {result.stderr.strip()}")
    return result.stdout


def _json_value(value: Any) -> str:
    """Compact JSON that keeps the source's number text (prices are decimals in TES: no float round trip)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    return json.dumps(value)


def _block(key: str, rows: Iterable[list[Any]]) -> str:
    body = ",\n".join(f"  {_json_value(row)}" for row in rows)
    return f'"{key}":[\n{body}\n]'


def extract(git_dir: Path, regions: Iterable[str], tag: str = TAG) -> str:
    """The extract's text for the ga4gh-tes repository at `git_dir` (checkout or bare), restricted to `regions`."""
    allowed = sorted({r.lower() for r in regions})
    if not allowed:
        raise ExtractError("regions: at least one region is needed")
    commit = _git(git_dir, "rev-parse", f"{tag}^{{commit}}").strip()
    vm_sizes = json.loads(_git(git_dir, "show", f"{tag}:{VM_SIZES_PATH}").lstrip("\ufeff"), parse_float=Decimal)
    disks = json.loads(_git(git_dir, "show", f"{tag}:{DATA_DISKS_PATH}").lstrip("\ufeff"), parse_float=Decimal)

    rows = []
    for index, vm in enumerate(vm_sizes):
        missing = [f for f in (*VM_FIELDS, "RegionsAvailable") if f not in vm]
        if missing:
            raise ExtractError(f"{VM_SIZES_PATH}[{index}] ({vm.get('VmSize')}): no {', '.join(missing)}")
        offered = {r.lower() for r in vm["RegionsAvailable"] or ()}
        rows.append([*(vm[f] for f in VM_FIELDS), [r for r in allowed if r not in offered]])
    disk_rows = []
    for index, disk in enumerate(disks):
        missing = [f for f in DISK_FIELDS if f not in disk]
        if missing:
            raise ExtractError(f"{DATA_DISKS_PATH}[{index}]: no {', '.join(missing)}")
        disk_rows.append([disk[f] for f in DISK_FIELDS])

    source = {
        "repo": "microsoft/ga4gh-tes",
        "tag": tag,
        "commit": commit,
        "vmSizes": {"path": VM_SIZES_PATH, "blob": _git(git_dir, "rev-parse", f"{tag}:{VM_SIZES_PATH}").strip()},
        "dataDisks": {"path": DATA_DISKS_PATH, "blob": _git(git_dir, "rev-parse", f"{tag}:{DATA_DISKS_PATH}").strip()},
        "regions": "$regions is configuration/regions.py REGIONS; NotInRegions: those of them the size is not offered in",
        "rows": "one source entry per row, in the source's order, fields as named in vmSizeColumns/dataDiskColumns",
        "generator": "scripts/extract_tes_vm_sizes.py",
    }
    parts = [
        f'"$source":{json.dumps(source)}',
        f'"$regions":{json.dumps(allowed)}',
        f'"vmSizeColumns":{json.dumps([*VM_FIELDS, "NotInRegions"])}',
        f'"dataDiskColumns":{json.dumps(list(DISK_FIELDS))}',
        _block("vmSizes", rows),
        _block("dataDisks", disk_rows),
    ]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _project_regions() -> frozenset[str]:
    sys.path.insert(0, str(REPO))
    from configuration.regions import REGIONS

    return REGIONS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--git-dir", type=Path, required=True, help="microsoft/ga4gh-tes checkout or bare mirror")
    parser.add_argument("--tag", default=TAG)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--region", action="append", help="restrict to these regions (default: configuration.stack)")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    try:
        text = extract(args.git_dir, args.region or _project_regions(), args.tag)
    except ExtractError as error:
        print(f"extract_tes_vm_sizes: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} differs from {args.tag} in {args.git_dir}: regenerate it", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
