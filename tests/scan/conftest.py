"""The dev stack's resources.json as the offline preview writes it, from the session-wide program run."""

from __future__ import annotations

from typing import Any

import pytest

from offline.harness import ProgramRun
from offline.report import resources_document


@pytest.fixture(scope="session")
def dev_document(dev: ProgramRun) -> dict[str, Any]:
    return resources_document(dev.project, dev.stack, list(dev.resources))


@pytest.fixture(scope="session")
def prod_document(prod: ProgramRun) -> dict[str, Any]:
    return resources_document(prod.project, prod.stack, list(prod.resources))
