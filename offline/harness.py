"""Runs a Pulumi Python program for one stack under Pulumi's mock engine and records what it registered.

This is the same program `pulumi up` runs: only the engine is replaced. The recording monitor keeps what the
CLI would hand to a policy pack (type, name, inputs, parent, dependencies, property dependencies, provider,
protect), which `pulumi.runtime.Mocks` alone does not expose.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from offline.mocks import AzureMocks
from offline.records import ResourceRecord
from offline.stackconfig import StackConfigError, load_stack_config

# Deserialising resource references needs an event loop on the gRPC worker thread, as in MockMonitor itself.
_ensure_event_loop = pulumi_mocks._ensure_event_loop  # pyright: ignore[reportPrivateImportUsage]

__all__ = ["ProgramError", "ProgramRun", "StackConfigError", "run_program"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class ProgramError(Exception):
    """The program itself raised; the message is the program's own error."""


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[ResourceRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == token]

    def by_urn(self) -> dict[str, ResourceRecord]:
        return {r.urn: r for r in self.resources}


SECRET_MASK = "[secret]"


def _plain(value: Any, *, mask_secrets: bool = False) -> Any:
    """Strip secret wrappers and unknown sentinels so inputs read like the engine's JSON.

    Inputs keep secret values (a policy pack sees them as the CLI hands them over); stack outputs are masked the
    way `pulumi preview` shows them."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_MASK if mask_secrets else _plain(value.get("value"))
        return {k: _plain(v, mask_secrets=mask_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, mask_secrets=mask_secrets) for v in value]
    if value == rpc.UNKNOWN:
        return None
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        return {"path": value.path}
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []
        self.stack_outputs: dict[str, Any] = {}
        self._stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            # set_mocks registers a root stack before the program's own; record the stack once.
            if self._stack_urn == response.urn:
                return response
            self._stack_urn = response.urn
        _ensure_event_loop()
        inputs = _plain(rpc.deserialize_properties(request.object, keep_unknowns=True, keep_internal=False))
        registration = self.resources.get(response.urn)
        self.records.append(
            ResourceRecord(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                inputs=inputs,
                outputs=_plain(registration.state) if registration else {},
                id=registration.id if registration and registration.id else "",
                parent=request.parent,
                dependencies=tuple(request.dependencies),
                property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                protect=bool(request.protect),
                provider=request.provider,
                delete_before_replace=bool(request.deleteBeforeReplace),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                aliases=tuple(a.urn or a.spec.name for a in request.aliases),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.urn == self._stack_urn:
            _ensure_event_loop()
            self.stack_outputs = _plain(
                rpc.deserialize_properties(request.outputs, keep_unknowns=True, keep_internal=True), mask_secrets=True
            )
        return super().RegisterResourceOutputs(request)


@contextmanager
def _program_context(program_dir: Path) -> Iterator[None]:
    """cwd and import path as the language host sets them; modules of a previous program are forgotten."""
    old_cwd, old_path = Path.cwd(), list(sys.path)

    def forget_program_modules() -> None:
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None) or ""
            own_code = origin.startswith(str(program_dir)) and "site-packages" not in origin
            if own_code and not origin.startswith(str(REPO_ROOT / "offline")):
                del sys.modules[name]

    forget_program_modules()
    os.chdir(program_dir)
    sys.path.insert(0, str(program_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        forget_program_modules()


def run_program(program_dir: Path, stack: str, *, mocks: pulumi.runtime.Mocks | None = None) -> ProgramRun:
    """Run `program_dir/__main__.py` for `stack` under mocks; raise StackConfigError or ProgramError."""
    program_dir = program_dir.resolve()
    config = load_stack_config(program_dir, stack)
    main = program_dir / "__main__.py"
    if not main.is_file():
        raise StackConfigError(f"{program_dir}: no __main__.py to run")

    # set_mocks already schedules work (the root stack), so the loop must exist first.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(mocks or AzureMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=config.project, stack=stack, preview=True, monitor=monitor)
    set_all_config(config.values, list(config.secret_keys))
    # set_mocks registers a root stack of its own; the program gets a fresh one from run_in_stack, as under the
    # language host, so that its exports reach RegisterResourceOutputs.
    settings.set_root_resource(None)  # type: ignore[arg-type]
    try:
        with _program_context(program_dir):

            def program() -> None:
                runpy.run_path(str(main), run_name="__main__")

            loop.run_until_complete(run_in_stack(program))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from None
    except Exception as exc:
        raise ProgramError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(project=config.project, stack=stack, resources=monitor.records, outputs=monitor.stack_outputs)
