"""Print the virtualenv a Python policy pack runs in, as the Pulumi CLI resolves it.

Pulumi starts a local Python pack (`--policy-pack DIR`) with the interpreter of the virtualenv named
by `runtime.options.virtualenv` in `DIR/PulumiPolicy.yaml`, resolved against DIR; without that option
it falls back to the `python3` on PATH. It installs none of the pack's requirements itself, so CI
must install `DIR/requirements.txt` into whichever of the two the CLI will use.

Prints the absolute virtualenv path, or nothing when the pack names none. Exit status 1 with a message
naming the file and key when the file is missing or malformed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


class PolicyPackError(ValueError):
    """PulumiPolicy.yaml is missing or does not have the shape Pulumi expects."""


def policy_virtualenv(pack_dir: Path) -> Path | None:
    """Return the pack's virtualenv (absolute), or None when the pack runs on the PATH python."""
    manifest = pack_dir / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PolicyPackError(f"{manifest}: not found; a policy pack needs a PulumiPolicy.yaml")
    document: Any = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise PolicyPackError(f"{manifest}: expected a mapping at the top level")
    runtime: Any = document.get("runtime")
    # `runtime: python` is the short form with no options.
    if isinstance(runtime, str):
        name, options = runtime, {}
    elif isinstance(runtime, dict):
        name, options = runtime.get("name"), runtime.get("options") or {}
    else:
        raise PolicyPackError(f"{manifest}: runtime must be 'python' or a mapping with name: python")
    if name != "python":
        raise PolicyPackError(f"{manifest}: runtime.name is {name!r}; this helper handles 'python' packs")
    if not isinstance(options, dict):
        raise PolicyPackError(f"{manifest}: runtime.options must be a mapping")
    virtualenv: Any = options.get("virtualenv")
    if virtualenv is None or virtualenv == "":
        return None
    if not isinstance(virtualenv, str):
        raise PolicyPackError(f"{manifest}: runtime.options.virtualenv must be a path, got {virtualenv!r}")
    path = Path(virtualenv).expanduser()
    if not path.is_absolute():
        path = pack_dir.resolve() / path
    return path.resolve()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: policy_venv.py POLICY_PACK_DIR", file=sys.stderr)
        return 2
    try:
        venv = policy_virtualenv(Path(argv[0]))
    except PolicyPackError as error:
        print(f"policy_venv.py: {error}", file=sys.stderr)
        return 1
    if venv is not None:
        print(venv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
