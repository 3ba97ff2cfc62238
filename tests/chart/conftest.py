"""Make render.py and chart_checks.py importable (pytest runs with importlib mode) and share renders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from chart_checks import CASES, rendered_case  # noqa: E402 (needs the sys.path entry above)


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def objects(case: str) -> list[dict[str, Any]]:
    return rendered_case(case)
