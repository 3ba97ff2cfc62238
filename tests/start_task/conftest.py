"""A fake Batch node for the start-task script: stub `curl` and `docker` on PATH, real bash and python3.

The stubs log every call (argv, stdin they were handed, selected environment) to calls.jsonl and behave per
STUB_* environment variables, so tests assert on exactly what the real script asked the tools to do.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]
if str(_REPO_ROOT) not in sys.path:  # the repo's pytest config may not put the root on sys.path yet
    sys.path.insert(0, str(_REPO_ROOT))


_COMMON = '''
import json, os, sys
STATE = os.environ["STUB_STATE"]

def log(tool, stdin=None, **extra):
    entry = {"tool": tool, "argv": sys.argv[1:], "stdin": stdin,
             "env": {"DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG")}}
    entry.update(extra)
    with open(os.path.join(STATE, "calls.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\\n")

def next_in_sequence(name, default):
    """Comma-separated STUB_<name>; one item per call, the last one repeats."""
    items = os.environ.get("STUB_" + name, default).split(",")
    path = os.path.join(STATE, name + ".count")
    count = int(open(path).read()) if os.path.exists(path) else 0
    open(path, "w").write(str(count + 1))
    return items[min(count, len(items) - 1)]
'''

_CURL = """
args = sys.argv[1:]
url = args[-1]
reads_stdin = ("--config" in args and args[args.index("--config") + 1] == "-") or "@-" in args
stdin = sys.stdin.read() if reads_stdin else None
log("curl", stdin=stdin)

def reply(code, body):
    sys.stdout.write(body + "\\n" + code)
    sys.exit(0)

if url.startswith("http://169.254.169.254/metadata/identity/oauth2/token?"):
    code = next_in_sequence("IMDS", "200")
    if code == "000":
        sys.stdout.write("\\n000")
        sys.stderr.write("curl: (7) Failed to connect to 169.254.169.254 port 80\\n")
        sys.exit(7)
    if "Metadata: true" not in args:
        reply("400", json.dumps({"error": "invalid_request", "error_description": "Required metadata header not specified"}))
    if "client_id=" + os.environ["STUB_CLIENT_ID"] not in url:
        reply("400", json.dumps({"error": "invalid_request", "error_description": "Identity not found"}))
    if code != "200":
        reply(code, json.dumps({"error": "server_error", "error_description": "IMDS busy"}))
    reply("200", json.dumps({"access_token": os.environ["STUB_TOKEN"], "expires_in": "3599",
                             "resource": "https://vault.azure.net", "token_type": "Bearer"}))

registry = os.environ.get("STUB_REGISTRY")
if registry and url == "https://" + registry + "/oauth2/exchange":
    import urllib.parse
    form = dict(urllib.parse.parse_qsl(stdin or ""))
    code = next_in_sequence("EXCHANGE", "200")
    if code == "000":
        sys.stdout.write("\\n000")
        sys.exit(7)
    wanted = {"grant_type": "access_token", "service": registry, "access_token": os.environ["STUB_TOKEN"]}
    if form != wanted:
        reply("401", json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "bad token exchange request"}]}))
    if code != "200":
        reply(code, json.dumps({"error_description": "identity has no AcrPull on the registry"}))
    reply("200", json.dumps({"refresh_token": os.environ.get("STUB_REFRESH", "acr-refresh-NEVER-LOG")}))

prefix = "https://" + os.environ.get("STUB_VAULT", "none") + ".vault.azure.net/secrets/"
if url.startswith(prefix) and url.endswith("?api-version=7.4"):
    name = url[len(prefix):-len("?api-version=7.4")]
    if stdin != 'header = "Authorization: Bearer ' + os.environ["STUB_TOKEN"] + '"\\n':
        reply("401", json.dumps({"error": {"code": "Unauthorized", "message": "no bearer token"}}))
    code = os.environ.get("STUB_KV_STATUS", "200")
    if code != "200":
        reply(code, json.dumps({"error": {"code": "Forbidden", "message": "Caller is not authorized"}}))
    secrets = json.loads(os.environ.get("STUB_SECRETS", "{}"))
    if name not in secrets:
        reply("404", json.dumps({"error": {"code": "SecretNotFound", "message": "A secret with (name/id) " + name + " was not found"}}))
    reply("200", json.dumps({"value": secrets[name], "id": url}))

sys.stderr.write("curl: (6) Could not resolve host for " + url + "\\n")
sys.stdout.write("\\n000")
sys.exit(6)
"""

_DOCKER = """
args = sys.argv[1:]
command = args[0] if args else ""
container = os.path.join(STATE, "container.json")
stdin = sys.stdin.read() if command == "login" else None
secret_env = {}
if command == "run":
    for i, arg in enumerate(args[:-1]):
        if arg == "--env" and "=" not in args[i + 1]:
            secret_env[args[i + 1]] = os.environ.get(args[i + 1])
log("docker", stdin=stdin, secret_env=secret_env)

if command == "info":
    sys.exit(0 if os.environ.get("STUB_DOCKER_INFO", "ok") == "ok" else 1)
if command == "login":
    outcome = os.environ.get("STUB_LOGIN", "ok")
    if outcome == "unauthorized":
        sys.stderr.write("Error response from daemon: Get https://registry/v2/: unauthorized: incorrect username or password\\n")
        sys.exit(1)
    if outcome == "network":
        sys.stderr.write("Error response from daemon: Get https://registry/v2/: dial tcp: i/o timeout\\n")
        sys.exit(1)
    print("Login Succeeded")
    sys.exit(0)
if command in ("logout",):
    sys.exit(0)
if command == "pull":
    sys.exit(0 if os.environ.get("STUB_PULL", "ok") == "ok" else 1)
if command == "inspect":
    expected = "{{.Config.Image}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}"
    if args[1:3] != ["--format", expected]:
        sys.stderr.write("stub: unexpected inspect format\\n")
        sys.exit(2)
    if not os.path.exists(container):
        sys.stderr.write("Error: No such object: " + args[-1] + "\\n")
        sys.exit(1)
    image = json.load(open(container))["image"]
    status, health, *rest = next_in_sequence("HEALTH", "running:healthy").split(":")
    print(image, status, health, rest[0] if rest else "0")
    sys.exit(0)
if command == "run":
    if os.environ.get("STUB_RUN", "ok") != "ok":
        sys.exit(125)
    image = os.environ["STUB_IMAGE"]
    assert image in args, "stub: configured image missing from docker run"
    json.dump({"image": image}, open(container, "w"))
    print("4f1c0ffee")
    sys.exit(0)
if command == "rm":
    if os.path.exists(container):
        os.remove(container)
    sys.exit(0)
sys.stderr.write("stub: unexpected docker command " + command + "\\n")
sys.exit(2)
"""


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict[str, Any]]
    tmpdir: Path

    def tool_calls(self, tool: str, command: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["tool"] == tool and (command is None or c["argv"][:1] == [command])]

    def commands(self) -> list[str]:
        """docker subcommands and curl targets in call order."""
        return [c["argv"][0] if c["tool"] == "docker" else "curl:" + c["argv"][-1].split("?")[0] for c in self.calls]


class FakeNode:
    # The identity IMDS knows, and the token it hands out for it.
    client_id = "0f0e0d0c-0b0a-4998-8877-665544332211"
    token = "eyJ0eXAi.kv-token-NEVER-LOG"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.tmp = root / "tmp"
        for d in (self.bin, self.state, self.tmp):
            d.mkdir()
        for name, body in (("curl", _CURL), ("docker", _DOCKER)):
            path = self.bin / name
            path.write_text(f"#!{sys.executable}\n{textwrap.dedent(_COMMON)}\n{body}")
            path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def existing_container(self, image: str) -> None:
        (self.state / "container.json").write_text(json.dumps({"image": image}))

    def run(self, script: str, *, shell: str | None = None, **stub_env: str) -> RunResult:
        path = self.root / "global-start-task.sh"
        path.write_text(script)
        path.chmod(0o700)
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.root),
            "TMPDIR": str(self.tmp),
            "STUB_STATE": str(self.state),
            "STUB_CLIENT_ID": self.client_id,
            "STUB_TOKEN": self.token,
            **stub_env,
        }
        # Executed directly, as TES 6 does ($AZ_BATCH_TASK_WORKING_DIR/global-start-task.sh): the shebang matters;
        # or by a named shell, as TES 3.2 does (`/bin/sh <path>`): the shebang is ignored.
        proc = subprocess.run(
            [shell, str(path)] if shell else [str(path)],
            env=env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        log = self.state / "calls.jsonl"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return RunResult(proc.returncode, proc.stdout, proc.stderr, calls, self.tmp)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[FakeNode]:
    yield FakeNode(tmp_path)
