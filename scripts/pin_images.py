#!/usr/bin/env python3
"""Resolve and check the digests in images.lock.json against the registries the images come from.

    scripts/pin_images.py [--lock images.lock.json]            resolve every pending cache-sourced digest
    scripts/pin_images.py --refresh KEY [KEY ...]               re-resolve these entries (a deliberate upgrade)
    scripts/pin_images.py --check [--registry <login server>]   verify every recorded digest exists; exit 1 if not
    scripts/pin_images.py --dry-run                             print the registry queries, change nothing

Needs `crane` (github.com/google/go-containerregistry) on PATH and a network path to the registries: Docker Hub and
MCR for `source: cache` entries, our ACR (logged in, `az acr login`) for `source: build` entries with --registry.
A digest is content-addressed: if `crane digest <upstream>@<digest>` answers, the registry serves exactly what was
reviewed. A tag that has since moved is reported, not followed: moving a pin is a reviewed change (--refresh).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class RegistryError(RuntimeError):
    pass


def crane_digest(reference: str) -> str:
    """The manifest digest the registry serves for `reference` (tag or digest)."""
    crane = os.environ.get("CRANE", "crane")
    try:
        result = subprocess.run([crane, "digest", reference], capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise RegistryError(
            f"{crane} is not on PATH (go install github.com/google/go-containerregistry/cmd/crane)"
        ) from None
    digest = result.stdout.strip()
    if result.returncode != 0 or not DIGEST.fullmatch(digest):
        raise RegistryError(f"crane digest {reference}: {(result.stderr or result.stdout).strip() or 'no digest'}")
    return digest


def _where(entry: dict[str, Any], registry: str | None) -> str | None:
    """Repository the entry's digest lives in: upstream for cache entries, our registry for built ones."""
    if entry["source"] == "cache":
        return entry["upstream"]
    return f"{registry}/{entry['build']['repository']}" if registry else None


def resolve(lock: dict[str, Any], keys: Sequence[str], *, dry_run: bool, today: str) -> list[str]:
    """Record the digest each tag names now; returns one line per entry."""
    lines = []
    for key in keys:
        entry = lock["images"][key]
        if entry["source"] != "cache":
            lines.append(f"{key}: source build; scripts/build-images.sh records its digest")
            continue
        reference = f"{entry['upstream']}:{entry['tag']}"
        if dry_run:
            lines.append(f"{key}: crane digest {reference}")
            continue
        digest = crane_digest(reference)
        entry["digest"] = digest
        entry["resolved"] = f"crane digest {reference} on {today}"
        lines.append(f"{key}: {reference} -> {digest}")
    return lines


def check(lock: dict[str, Any], *, registry: str | None, dry_run: bool) -> tuple[list[str], bool]:
    """Every recorded digest must be served where the entry says it comes from."""
    lines, ok = [], True
    for key, entry in lock["images"].items():
        digest, where = entry.get("digest"), _where(entry, registry)
        if not digest:
            lines.append(f"{key}: PENDING (no digest recorded)")
            continue
        if where is None:
            lines.append(f"{key}: SKIPPED built image; pass --registry <login server> to check it")
            continue
        if dry_run:
            lines.append(f"{key}: crane digest {where}@{digest}")
            continue
        try:
            served = crane_digest(f"{where}@{digest}")
        except RegistryError as error:
            lines.append(f"{key}: MISSING {where}@{digest}: {error}")
            ok = False
            continue
        if served != digest:
            lines.append(f"{key}: MISMATCH {where}@{digest} answers {served}")
            ok = False
            continue
        line = f"{key}: ok {where}@{digest}"
        if entry["source"] == "cache":
            try:
                current = crane_digest(f"{entry['upstream']}:{entry['tag']}")
            except RegistryError:
                current = digest
            if current != digest:
                line += f" (tag {entry['tag']} has moved to {current}; --refresh {key} to review the new image)"
        lines.append(line)
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lock", type=Path, default=REPO / "images.lock.json")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--refresh", nargs="+", metavar="KEY")
    parser.add_argument("--registry", help="login server of our ACR, to check built images")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    lock = json.loads(args.lock.read_text())
    images = lock["images"]
    try:
        if args.check:
            lines, ok = check(lock, registry=args.registry, dry_run=args.dry_run)
            print("\n".join(lines))
            return 0 if ok else 1
        unknown = sorted(set(args.refresh or ()) - set(images))
        if unknown:
            print(f"pin-images: no image {', '.join(unknown)} in {args.lock.name}", file=sys.stderr)
            return 2
        keys = args.refresh or [key for key, entry in images.items() if not entry.get("digest")]
        today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        lines = resolve(lock, keys, dry_run=args.dry_run, today=today)
    except RegistryError as error:
        print(f"pin-images: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines) or "nothing pending")
    if not args.dry_run:
        args.lock.write_text(json.dumps(lock, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
