"""Talks to a Python CrossGuard policy pack exactly as the Pulumi CLI does, without the CLI.

How the CLI (sdk/go/common/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer) runs a Python pack: it
reads ``PulumiPolicy.yaml``, starts the ``pulumi-analyzer-policy-python`` shim with the working directory set
to the pack and the arguments ``<engine address> .`` (plus ``-virtualenv=<dir>`` from the runtime options),
with PULUMI_CONFIG/PULUMI_PROJECT/PULUMI_STACK/PULUMI_DRY_RUN in the environment. The shim runs
``python3 -u -m pulumi.policy <engine address> .`` (the venv's python when a virtualenv is configured);
``pulumi.policy`` runs the pack's ``__main__.py``, whose ``PolicyPack`` serves the Analyzer gRPC service on
127.0.0.1 and prints the port on stdout. The CLI then calls Handshake (the Python SDK leaves it
unimplemented; the CLI tolerates that), ConfigureStack, GetAnalyzerInfo, Configure (policy config, with an
enforcement level filled in for every configured policy), Analyze for each resource as it is registered,
and AnalyzeStack once at the end.

Coverage: a pack answers "not applicable" for a policy that had nothing to judge (pulumi_policy's
`args.not_applicable()`, the AnalyzeResponse `not_applicable` list). `evaluated` counts, per policy, the resources
it judged in the last `analyze`: for a resource policy, the Analyze calls that ran it and got no "not applicable";
for a stack policy, none when it answered "not applicable", else the resources of the types its `subject:<type>`
tags name (the whole stack when it names none).

Here the pack runs under ``python`` (default: this interpreter, whose venv has pulumi-policy); the real CLI
uses the pack's own virtualenv or the ``python3`` on PATH. The engine address points at a minimal in-process
Engine service that records log messages; the Python policy SDK does not otherwise call it.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    engine_pb2_grpc,
    plugin_pb2,
)

from offline.records import ResourceRecord

__all__ = ["PolicyInfo", "PolicyPackAnalyzer", "PolicyPackError", "Violation"]

# What the engine sends for a computed value (resource.UnknownStringValue); records keep unknowns as None.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_VALUES = {v: k for k, v in _LEVELS.items()}
_POLICY_TYPES = {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource", analyzer_pb2.POLICY_TYPE_STACK: "stack"}
# Tags by which a stack policy names the resource types it judges (policy/coa_policies/_core.py SUBJECT_TAG).
SUBJECT_TAG = "subject:"
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
# Analyze calls outstanding at once. The pack serves 4 at a time (pulumi_policy's thread pool); a few dozen
# queued keep it busy without the thousands that a large stack would otherwise queue.
MAX_IN_FLIGHT = 64
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]


class PolicyPackError(Exception):
    """The pack failed to start, crashed, or a call failed; the message says why."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    severity: str
    framework: dict[str, str] | None
    remediation_steps: str
    config_schema: dict[str, Any] | None
    policy_type: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    policy_name: str
    policy_pack: str
    description: str
    message: str
    enforcement_level: str
    urn: str
    severity: str
    remediation_steps: str


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.messages.append(request.message)
        return empty_pb2.Empty()


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({k: _wire(v) for k, v in value.items()})
    return out


def _wire(value: Any) -> Any:
    if value is None:
        return UNKNOWN_SENTINEL
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


class PolicyPackAnalyzer:
    """Context manager owning one policy pack process and its gRPC channel."""

    def __init__(
        self,
        pack_dir: Path,
        config: Mapping[str, Any] | None = None,
        python: str = sys.executable,
        timeout: float = 60.0,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.pack_dir = Path(pack_dir).resolve()
        self.config = dict(config or {})
        self.python = python
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()
        self._engine = _Engine()
        self._engine_server: grpc.Server | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._info: tuple[str, list[PolicyInfo]] | None = None
        self.timings: dict[str, float] = {}
        # Per policy, the resources it judged in the last `analyze` (see the module docstring).
        self.evaluated: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise PolicyPackError(f"{self.pack_dir} is not a policy pack: PulumiPolicy.yaml is missing")
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        self._process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", "."],
            cwd=self.pack_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        port = self._read_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        except grpc.FutureTimeoutError as error:
            raise PolicyPackError(f"policy pack port {port} never became ready\n{self._stderr_tail()}") from error
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        if self.config:
            self._configure()

    def _read_port(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        line = b""
        while not line.endswith(b"\n"):
            if not selector.select(timeout=self.timeout):
                self.close()
                raise PolicyPackError(f"policy pack printed no port within {self.timeout}s\n{self._stderr_tail()}")
            chunk = os.read(self._process.stdout.fileno(), 1)
            if not chunk:
                code = self._process.wait(timeout=self.timeout)
                raise PolicyPackError(
                    f"policy pack exited with code {code} before printing its port\n{self._stderr_tail()}"
                )
            line += chunk
        selector.close()
        # Keep draining stdout so a rule that prints cannot block the pack on a full pipe.
        threading.Thread(target=self._process.stdout.read, daemon=True).start()
        try:
            return int(line.strip())
        except ValueError as error:
            raise PolicyPackError(f"policy pack printed {line!r} instead of a port\n{self._stderr_tail()}") from error

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._engine_server is not None:
            self._engine_server.stop(0)
            self._engine_server = None

    def _stderr_tail(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        logs = "\n".join(self._engine.messages)
        return f"pack stderr (tail):\n{text[-limit:]}" + (f"\nengine log:\n{logs[-limit:]}" if logs else "")

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError("policy pack is not running (use it as a context manager)")
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise PolicyPackError(
                f"{method} failed: {error.code().name}: {error.details()}\n"  # type: ignore[attr-defined]
                f"{self._stderr_tail()}"
            ) from error

    def _call_future(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError("policy pack is not running (use it as a context manager)")
        return getattr(self._stub, method).future(request, timeout=self.timeout)

    def _result(self, future: Any, method: str) -> Any:
        try:
            return future.result()
        except grpc.RpcError as error:
            raise PolicyPackError(
                f"{method} failed: {error.code().name}: {error.details()}\n"  # type: ignore[attr-defined]
                f"{self._stderr_tail()}"
            ) from error

    # -- protocol --------------------------------------------------------------------------------------
    def info(self) -> tuple[str, list[PolicyInfo]]:
        if self._info is None:
            reply = self._call("GetAnalyzerInfo", empty_pb2.Empty())
            policies = [
                PolicyInfo(
                    name=p.name,
                    description=p.description,
                    enforcement_level=_LEVELS[p.enforcementLevel],
                    severity=_SEVERITIES[p.severity],
                    framework=json_format.MessageToDict(p.framework) if p.HasField("framework") else None,
                    remediation_steps=p.remediation_steps,
                    config_schema=(
                        json_format.MessageToDict(p.configSchema, preserving_proto_field_name=True)
                        if p.HasField("configSchema")
                        else None
                    ),
                    policy_type=_POLICY_TYPES.get(p.policy_type, ""),
                    tags=tuple(p.tags),
                )
                for p in reply.policies
            ]
            self._info = (reply.name, policies)
        return self._info

    def _configure(self) -> None:
        # Like the CLI, give every configured policy an explicit enforcement level (the wire default, 0, would
        # silently make it advisory); "all" sets the level of every policy.
        _, policies = self.info()
        known_names = {p.name for p in policies}
        unknown = sorted(set(self.config) - known_names - {"all"})
        if unknown:
            raise PolicyPackError(f"policy config names unknown policies: {', '.join(unknown)}")
        default_level = self.config.get("all")
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in policies:
            entry = self.config.get(policy.name, default_level)
            if entry is None:
                continue
            settings = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
            level = settings.pop("enforcementLevel", default_level if isinstance(default_level, str) else None)
            level = level or policy.enforcement_level
            if level not in _LEVEL_VALUES:
                raise PolicyPackError(
                    f"policy config {policy.name}.enforcementLevel: {level!r} is not one of {sorted(_LEVEL_VALUES)}"
                )
            config = request.policyConfig[policy.name]
            config.enforcementLevel = _LEVEL_VALUES[level]
            config.properties.update(settings)
        self._call("Configure", request)

    def _level(self, policy: PolicyInfo) -> str:
        """The policy's enforcement level once the policy config is applied."""
        entry = self.config.get(policy.name, self.config.get("all"))
        if isinstance(entry, str):
            return entry
        if isinstance(entry, Mapping) and isinstance(entry.get("enforcementLevel"), str):
            return str(entry["enforcementLevel"])
        return policy.enforcement_level

    def analyze(self, resources: Sequence[ResourceRecord]) -> list[Violation]:
        """Analyze every resource, then AnalyzeStack once; returns all diagnostics as violations.

        `timings` then holds the wall time of each phase (Analyze, AnalyzeStack), in seconds, and `evaluated` the
        resources each enabled policy judged."""
        _, policies = self.info()
        started = time.perf_counter()
        remediation = {p.name: p.remediation_steps for p in policies}
        enabled = [p for p in policies if self._level(p) != "disabled"]
        resource_policies = [p.name for p in enabled if p.policy_type != "stack"]
        evaluated = dict.fromkeys((p.name for p in enabled), 0)
        by_urn = {r.urn: r for r in resources}
        violations: list[Violation] = []

        def collect(reply: Any, urn: str) -> None:
            violations.extend(self._violations(reply, urn, remediation))
            skipped = {n.policy_name for n in reply.not_applicable}
            for name in resource_policies:
                if name not in skipped:
                    evaluated[name] += 1

        # A window of Analyze calls in flight, collected in resource order: the round trips overlap on the pack's
        # thread pool, but a large stack must not queue thousands of calls at once (the pack's server then
        # cancels some of them).
        window: deque[tuple[ResourceRecord, Any]] = deque()
        for record in resources:
            if len(window) >= self.max_in_flight:
                done, future = window.popleft()
                collect(self._result(future, "Analyze"), done.urn)
            window.append((record, self._call_future("Analyze", self._analyze_request(record, by_urn))))
        while window:
            done, future = window.popleft()
            collect(self._result(future, "Analyze"), done.urn)
        self.timings["Analyze"] = time.perf_counter() - started
        started = time.perf_counter()
        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    urn=r.urn,
                    type=r.type,
                    name=r.name,
                    properties=_struct(r.outputs or r.inputs),
                    options=self._options(r),
                    provider=self._provider(r, by_urn),
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                    propertyDependencies={
                        k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                        for k, v in r.property_dependencies.items()
                        if v
                    },
                )
                for r in resources
            ]
        )
        stack_reply = self._call("AnalyzeStack", stack_request)
        violations += self._violations(stack_reply, "", remediation)
        self.timings["AnalyzeStack"] = time.perf_counter() - started
        skipped = {n.policy_name for n in stack_reply.not_applicable}
        for policy in enabled:
            if policy.policy_type == "stack":
                subjects = {t[len(SUBJECT_TAG) :] for t in policy.tags if t.startswith(SUBJECT_TAG)}
                judged = [r for r in resources if not subjects or r.type in subjects]
                evaluated[policy.name] = 0 if policy.name in skipped else len(judged)
        self.evaluated = evaluated
        return violations

    def _analyze_request(
        self, record: ResourceRecord, by_urn: Mapping[str, ResourceRecord]
    ) -> analyzer_pb2.AnalyzeRequest:
        return analyzer_pb2.AnalyzeRequest(
            urn=record.urn,
            type=record.type,
            name=record.name,
            properties=_struct(record.inputs),
            options=self._options(record),
            provider=self._provider(record, by_urn),
        )

    @staticmethod
    def _options(record: ResourceRecord) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=record.protect,
            parent=record.parent,
            aliases=list(record.aliases),
            additionalSecretOutputs=list(record.additional_secret_outputs),
            deleteBeforeReplace=record.delete_before_replace,
            deleteBeforeReplaceDefined=record.delete_before_replace,
            customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        )

    @staticmethod
    def _provider(
        record: ResourceRecord, by_urn: Mapping[str, ResourceRecord]
    ) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not record.provider:
            return None
        urn = record.provider.rsplit("::", 1)[0]
        provider = by_urn.get(urn)
        return analyzer_pb2.AnalyzerProviderResource(
            urn=urn,
            type=provider.type if provider else urn.split("::")[-2],
            name=provider.name if provider else urn.split("::")[-1],
            properties=_struct(provider.inputs if provider else {}),
        )

    def _violations(self, reply: Any, urn: str, remediation: Mapping[str, str]) -> list[Violation]:
        name = self.info()[0]
        return [
            Violation(
                policy_name=d.policyName,
                policy_pack=d.policyPackName or name,
                description=d.description,
                message=d.message,
                enforcement_level=_LEVELS[d.enforcementLevel],
                urn=d.urn or urn,
                severity=_SEVERITIES[d.severity],
                remediation_steps=remediation.get(d.policyName, ""),
            )
            for d in reply.diagnostics
        ]


def plugin_info(analyzer: PolicyPackAnalyzer) -> str:
    """The policy SDK version the pack reports (GetPluginInfo)."""
    reply: plugin_pb2.PluginInfo = analyzer._call("GetPluginInfo", empty_pb2.Empty())
    return reply.version
