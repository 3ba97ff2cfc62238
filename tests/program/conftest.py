"""Program tests read the session-wide stack runs (tests/conftest.py) through the helpers in stackquery."""

from __future__ import annotations

import sys
from pathlib import Path

# Importlib mode: make the sibling helper module (stackquery) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
