"""A stack's validated settings, read from Pulumi.<stack>.yaml as `pulumi up` would hand them to the program, for the
offline planning tools (retirement, capacity). Read-only: nothing here changes how the program parses its config."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from configuration.settings import Settings
from configuration.stack import parse_settings
from offline.stackconfig import load_stack_config

REPO_ROOT = Path(__file__).resolve().parent.parent
# The parser judges Batch images against the day it runs; these tools judge every date themselves against their own
# (possibly simulated) day, so they read the stack as of a day before any support window closed.
INVENTORY_DAY = datetime.date.min


def load_stack_settings(stack: str, program_dir: Path = REPO_ROOT) -> Settings:
    """Raises StackConfigError (missing or malformed file) or ConfigError (invalid values, naming the key)."""
    config = load_stack_config(program_dir, stack)
    raw: dict[str, Any] = {}
    for full_key, value in config.values.items():
        namespace, _, key = full_key.partition(":")
        if namespace != config.project:
            continue
        # The CLI hands objects over as JSON text, as in configuration/stack.py load_settings.
        raw[key] = json.loads(value) if value[:1] in "{[" else value
    secret_keys = frozenset(k.partition(":")[2] for k in config.secret_keys if k.startswith(f"{config.project}:"))
    return parse_settings(
        raw,
        stack=stack,
        secret_keys=secret_keys,
        lock_path=program_dir / "images.lock.json",
        today=INVENTORY_DAY,
    )
