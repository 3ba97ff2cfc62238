"""Runs a Pulumi Python program for one stack under Pulumi's mock engine and records what it registered.

This is the same program `pulumi up` runs: only the engine is replaced. The recording monitor keeps what the
CLI would hand to a policy pack (type, name, inputs, parent, dependencies, property dependencies, provider,
protect), which `pulumi.runtime.Mocks` alone does not expose.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import importlib
import importlib.abc
import importlib.machinery
import os
import re
import runpy
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.resource as pulumi_resource
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import alias_pb2, source_pb2
from pulumi.runtime.stack import run_in_stack

from offline.mocks import AzureMocks
from offline.records import ResourceRecord
from offline.stackconfig import StackConfigError, load_stack_config

# Deserialising resource references needs an event loop on the gRPC worker thread, as in MockMonitor itself.
_ensure_event_loop = pulumi_mocks._ensure_event_loop  # pyright: ignore[reportPrivateImportUsage]

__all__ = ["PLAIN_ENV", "ProgramError", "ProgramRun", "StackConfigError", "fast_path_enabled", "run_program"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class ProgramError(Exception):
    """The program itself raised; the message is the program's own error.

    `config_errors` holds the lines of a configuration error (the program's ConfigError carries them as `errors`,
    one per line, each starting with its key), so they can be printed one per line."""

    def __init__(self, message: str, config_errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.config_errors = config_errors


def _config_errors(exc: BaseException) -> tuple[str, ...]:
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ == "ConfigError" and isinstance(errors, tuple) and all(isinstance(e, str) for e in errors):
        return errors
    return ()


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[ResourceRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # What the program warned (pulumi.log.warn), in order: the preview shows these too.
    warnings: list[str] = field(default_factory=list)

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


# -- offline-only speed-ups -------------------------------------------------------------------------------------
# The program and the SDKs run unchanged; what follows only skips work whose result the mock engine never reads, in
# this process and only while run_program runs. `COA_OFFLINE_PLAIN=1` turns all of it off (the exactness test
# compares both paths); `COA_OFFLINE_FAST=gc,stacktrace` keeps only the named ones (for measuring one at a time).
PLAIN_ENV = "COA_OFFLINE_PLAIN"
FAST_ENV = "COA_OFFLINE_FAST"
SPEEDUPS = ("gc", "lazy", "aliases", "stacktrace", "exit")


def fast_path_enabled(name: str) -> bool:
    """Whether the offline-only speed-up `name` is on (all are, unless COA_OFFLINE_PLAIN or COA_OFFLINE_FAST say)."""
    if os.environ.get(PLAIN_ENV, "") not in ("", "0"):
        return False
    chosen = os.environ.get(FAST_ENV)
    return chosen is None or name in {part.strip() for part in chosen.split(",")}


@contextmanager
def _patched(owner: object, attribute: str, replacement: object) -> Iterator[None]:
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection while the program runs: the SDK imports leave millions of long-lived objects (typing
    objects of azure-native and kubernetes) that every full collection walks again, for a few MB of cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _unresolved_alias(alias: Any, name: str, t: str, parent: Any) -> Any:
    """Stands in for collapse_alias_to_urn in Resource.__init__, which turns every alias (azure-native declares
    dozens of version aliases per resource) into a URN Output. Those URNs (Resource._aliases) are read only by
    all_aliases, i.e. for an engine without alias specs; MockMonitor supports alias specs (as the CLI's engine does),
    so the aliases reach RegisterResource as specs built from the resource options, unchanged."""
    return alias


def _plain_alias_spec(alias: Any) -> alias_pb2.Alias.Spec | None:
    """create_alias_spec for an Alias whose fields are plain values (no Output, no Resource parent); else None."""
    if not isinstance(alias, pulumi.Alias):
        return None
    fields = (alias.name, alias.type_, alias.stack, alias.project, alias.parent)
    if not all(value is ... or value is None or isinstance(value, str) for value in fields):
        return None
    name = alias.name if isinstance(alias.name, str) else ""
    resource_type = alias.type_ if isinstance(alias.type_, str) else ""
    stack = alias.stack if isinstance(alias.stack, str) else ""
    project = alias.project if isinstance(alias.project, str) else ""
    if alias.parent is None:
        return alias_pb2.Alias.Spec(name=name, type=resource_type, stack=stack, project=project, noParent=True)
    parent_urn = alias.parent if isinstance(alias.parent, str) else ""
    return alias_pb2.Alias.Spec(name=name, type=resource_type, stack=stack, project=project, parentUrn=parent_urn)


def _fast_prepare_aliases(original: Callable[..., Any]) -> Callable[..., Any]:
    """prepare_aliases without an Output and a task per plain alias: the same Alias messages, in the same order."""

    async def prepare_aliases(resource: Any, resource_options: Any, supports_alias_specs: bool) -> list[Any]:
        if not supports_alias_specs or resource_options is None or resource_options.aliases is None:
            return await original(resource, resource_options, supports_alias_specs)
        aliases: list[alias_pb2.Alias] = []
        for alias in resource_options.aliases:
            spec = _plain_alias_spec(alias)
            if spec is not None:
                aliases.append(alias_pb2.Alias(spec=spec))
            elif isinstance(alias, str):
                aliases.append(alias_pb2.Alias(urn=alias))
            else:  # an Output, or an Alias with Output or Resource fields: the SDK's own resolution
                aliases += await original(resource, pulumi.ResourceOptions(aliases=[alias]), supports_alias_specs)
        return aliases

    return prepare_aliases


def _no_stack_trace() -> source_pb2.StackTrace:
    """The SDK walks and formats the Python stack for every resource (sourcePosition, stackTrace); the recording
    monitor keeps neither, so an empty trace, as the SDK itself sends when it finds no user frame."""
    return source_pb2.StackTrace()


# Lazy SDK packages. A generated package such as pulumi_azure_native.network has an __init__.py that star-imports
# each of its ~300 modules (every resource, function, input and output type of the service); the program uses a
# handful. Under the offline twin such a package is loaded without running those imports: a name is looked up in
# the `__all__` lists of the modules the __init__ would star-import, and only the module that binds it in the
# eager import (the last one exporting it) is imported. Anything the plan cannot answer loads the whole package
# the ordinary way, so every lookup returns the object the eager import binds.
_LAZY_ROOTS = ("pulumi_azure_native.", "pulumi_kubernetes.")
_STAR_LINE = re.compile(r"from \.(\w+) import \*")
_PLAIN_LINE = re.compile(r"from \. import (\w+)")
_UTILITIES_LINE = re.compile(r"from (\.+) import _utilities")
_FIXED_LINES = {"import builtins as _builtins": ("_builtins", builtins), "import typing": ("typing", typing)}
_ALL_START = re.compile(rb"^__all__ = \[", re.MULTILINE)
_ALL_BODY = re.compile(rb"(?:\s*'[A-Za-z_]\w*'\s*,?)*\s*")
_ALL_NAME = re.compile(rb"'(\w+)'")


@dataclass(frozen=True)
class _Step:
    """One `from .<module> import *` (exports: its __all__, or None when it has none) or `from . import <module>`."""

    module: str
    star: bool
    exports: frozenset[str] | None


@dataclass(frozen=True)
class _LazyPlan:
    steps: tuple[_Step, ...]
    utilities_level: int
    # The step that binds each exported name last, as the eager import leaves it.
    index: dict[str, int]


def _module_all(path: Path) -> frozenset[str] | None:
    """The literal `__all__ = [...]` of a generated module, read without running it; None when there is none."""
    try:
        with path.open("rb") as handle:
            text = handle.read(16384)
            start = _ALL_START.search(text)
            if start is None:
                text += handle.read()
                start = _ALL_START.search(text)
                if start is None:
                    return None
            end = text.find(b"]", start.end())
            while end < 0:
                more = handle.read(262144)
                if not more:
                    return None
                text += more
                end = text.find(b"]", start.end())
    except OSError:
        return None
    body = text[start.end() : end]
    if not _ALL_BODY.fullmatch(body):
        return None
    return frozenset(name.decode() for name in _ALL_NAME.findall(body))


def _lazy_plan(init: Path) -> _LazyPlan | None:
    """The plan for a package whose __init__ only star-imports its modules, or None to import it the usual way."""
    try:
        lines = init.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        on_disk = {entry[:-3] for entry in os.listdir(init.parent) if entry.endswith(".py")}
    except OSError:
        return None
    steps: list[_Step] = []
    utilities_level = 0
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or line in _FIXED_LINES:
            continue
        if (match := _STAR_LINE.fullmatch(line)) is not None:
            if match.group(1) not in on_disk:
                return None
            steps.append(_Step(match.group(1), True, _module_all(init.parent / f"{match.group(1)}.py")))
        elif (match := _PLAIN_LINE.fullmatch(line)) is not None:
            steps.append(_Step(match.group(1), False, frozenset({match.group(1)})))
        elif (match := _UTILITIES_LINE.fullmatch(line)) is not None and not steps:
            utilities_level = len(match.group(1))
        else:
            return None
    if not utilities_level or not any(step.star for step in steps):
        return None
    index: dict[str, int] = {}
    for position, step in enumerate(steps):
        for name in step.exports or ():
            index[name] = position
    modules = {step.module: position for position, step in enumerate(steps)}
    for name, position in index.items():
        # A module's own name bound to something else (k8s: module Namespace exports class Namespace) is resolved
        # only when it is that very module's export; anything subtler is left to the eager import.
        if name in modules and modules[name] != position:
            return None
        if name in on_disk and name not in modules:
            return None
    return _LazyPlan(tuple(steps), utilities_level, index)


class _LazyPackage(types.ModuleType):
    """The module type of a package loaded by _LazyPackageLoader (until a lookup needs the eager import)."""

    _offline_plan: _LazyPlan
    _offline_loader: importlib.abc.Loader

    def __getattr__(self, name: str) -> Any:
        value = _lazy_lookup(self, name)
        if value is _MISSING:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # The import system binds every imported submodule on its package; the eager import then rebinds a module's
        # own name to the object of the same name it exports (k8s core.v1.Namespace is the class, not the module).
        plan = self.__dict__.get("_offline_plan")
        if plan is not None and isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            position = plan.index.get(name)
            if position is not None and plan.steps[position].module == name and plan.steps[position].star:
                value = getattr(value, name)
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        _load_eagerly(self)
        return list(types.ModuleType.__dir__(self))


_MISSING = object()
_LAZY_LOCK = threading.RLock()


def _lazy_lookup(module: _LazyPackage, name: str) -> Any:
    namespace = module.__dict__
    plan: _LazyPlan | None = namespace.get("_offline_plan")
    if plan is None or name.startswith("__"):
        if plan is not None:  # __all__, __wrapped__, ...: what the eager import has, or has not
            _load_eagerly(module)
        return namespace.get(name, _MISSING)
    # No lock: each step is an import (the import system serialises those) and binds the object the eager import
    # binds, so two threads resolving one name store the same object.
    position = plan.index.get(name, -1)
    # A later star import of a module without __all__ may rebind the name: those are imported to find out.
    for step in reversed(plan.steps[position + 1 :]):
        if step.star and step.exports is None:
            submodule = importlib.import_module(f"{module.__name__}.{step.module}")
            if not name.startswith("_") and name in vars(submodule):
                namespace[name] = vars(submodule)[name]
                return namespace[name]
    if position >= 0:
        step = plan.steps[position]
        submodule = importlib.import_module(f"{module.__name__}.{step.module}")
        namespace[name] = getattr(submodule, name) if step.star else submodule
        return namespace[name]
    if any(step.module == name for step in plan.steps):
        importlib.import_module(f"{module.__name__}.{name}")
        return namespace.get(name, _MISSING)
    _load_eagerly(module)
    return namespace.get(name, _MISSING)


def _load_eagerly(module: types.ModuleType) -> None:
    """Run the package's own __init__ in its namespace: the state the ordinary import leaves."""
    namespace = module.__dict__
    with _LAZY_LOCK:
        loader = namespace.pop("_offline_loader", None)
        if loader is None:
            return
        del namespace["_offline_plan"]
        module.__class__ = types.ModuleType
    exec(loader.get_code(module.__name__), namespace)  # the package's own __init__, as its loader runs it


class _LazyPackageLoader(importlib.abc.Loader):
    """Wraps the file loader of an SDK package; decides when the package is executed (azure-native's top-level
    package looks up the spec of all its ~300 service packages up front, and the program executes a dozen)."""

    def __init__(self, original: importlib.abc.Loader, init: Path) -> None:
        self.original = original
        self.init = init

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.original.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        plan = _lazy_plan(self.init)
        if plan is None:
            self.original.exec_module(module)
            return
        namespace = module.__dict__
        for name, value in _FIXED_LINES.values():
            namespace[name] = value
        base = module.__name__.rsplit(".", plan.utilities_level - 1)[0]
        namespace["_utilities"] = importlib.import_module(f"{base}._utilities")
        namespace["_offline_plan"] = plan
        namespace["_offline_loader"] = self.original
        module.__class__ = _LazyPackage

    def get_code(self, fullname: str) -> Any:
        return self.original.get_code(fullname)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, get_resource_reader, ...: the file loader's
        return getattr(self.original, name)


class _LazyPackageFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: types.ModuleType | None = None) -> Any:
        if not fullname.startswith(_LAZY_ROOTS) or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.submodule_search_locations or spec.loader is None:
            return spec
        spec.loader = _LazyPackageLoader(spec.loader, Path(spec.origin))
        return spec


@contextmanager
def _lazy_sdk_packages() -> Iterator[None]:
    finder = _LazyPackageFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@contextmanager
def _offline_speedups() -> Iterator[None]:
    with ExitStack() as stack:
        if fast_path_enabled("gc"):
            stack.enter_context(_gc_paused())
        if fast_path_enabled("lazy"):
            stack.enter_context(_lazy_sdk_packages())
        if fast_path_enabled("aliases"):
            stack.enter_context(_patched(pulumi_resource, "collapse_alias_to_urn", _unresolved_alias))
            fast = _fast_prepare_aliases(runtime_resource.prepare_aliases)
            stack.enter_context(_patched(runtime_resource, "prepare_aliases", fast))
        if fast_path_enabled("stacktrace"):
            stack.enter_context(_patched(runtime_resource, "_get_stack_trace", _no_stack_trace))
        yield


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
    warnings: list[str] = []
    original_warn = pulumi.log.warn

    def warn(msg: str, *args: Any, **kwargs: Any) -> None:
        warnings.append(msg)
        original_warn(msg, *args, **kwargs)

    try:
        with _program_context(program_dir), _offline_speedups(), _patched(pulumi.log, "warn", warn):

            def program() -> None:
                runpy.run_path(str(main), run_name="__main__")

            loop.run_until_complete(run_in_stack(program))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from None
    except Exception as exc:
        raise ProgramError(f"{type(exc).__name__}: {exc}", _config_errors(exc)) from exc
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(
        project=config.project,
        stack=stack,
        resources=monitor.records,
        outputs=monitor.stack_outputs,
        warnings=warnings,
    )
