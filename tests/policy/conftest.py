"""Make the repo root (offline/, policy/) and this directory's fixtures importable under importlib mode, and start the
real pack over gRPC as the CLI runs it: with dev's policy config and with prod's (policy/config/<stack>.json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.analyzer import PolicyPackAnalyzer

REPO = Path(__file__).resolve().parents[2]
for path in (REPO, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
PACK = REPO / "policy"


def _pack(stack: str) -> PolicyPackAnalyzer:
    return PolicyPackAnalyzer(PACK, config=json.loads((PACK / "config" / f"{stack}.json").read_text()), timeout=60)


@pytest.fixture(scope="session")
def dev_pack() -> Iterator[PolicyPackAnalyzer]:
    with _pack("dev") as pack:
        yield pack


@pytest.fixture(scope="session")
def prod_pack() -> Iterator[PolicyPackAnalyzer]:
    with _pack("prod") as pack:
        yield pack
