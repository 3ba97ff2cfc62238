"""docs/configuration.md documents every key the configuration parser accepts, nested ones included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from configuration import reader as config_reader
from configuration.reader import ConfigError
from configuration.stack import KNOWN_KEYS, parse_settings

REPO = Path(__file__).resolve().parents[2]


def accepted_keys(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every key path the parser accepts: the top-level keys and, for each object it reads, the keys it allows there.
    Parsing prod with every optional object present makes the parser read each one."""
    seen: set[str] = set(KNOWN_KEYS)
    checked = config_reader.Reader._checked

    def spy(self: config_reader.Reader, name: str, value: object, allowed: set[str]) -> config_reader.Reader:
        parent = re.sub(r"\[\d+\]", "", f"{self.path}{name}")
        seen.update(f"{parent}.{key}" for key in allowed)
        return checked(self, name, value, allowed)  # type: ignore[arg-type]

    monkeypatch.setattr(config_reader.Reader, "_checked", spy)
    document = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    raw = {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("coa-lockdown:")}
    raw["names"] = {}
    raw["network"]["flowLogs"] = {"networkWatcherName": "nw", "networkWatcherResourceGroup": "rg", "retentionDays": 90}
    raw["dataStorageAccounts"] = [
        {
            "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg/providers/"
            "Microsoft.Storage/storageAccounts/stseq01",
            "containers": [{"name": "runs", "access": "read"}],
            "allowBlobPublicAccess": False,
            "roleAssignments": "stack",
            "endpointApproval": "automatic",
        }
    ]
    raw["imageScanner"] = {"image": "scan.azurecr.io/scanner:1", "registryServer": "scan.azurecr.io"}
    raw["batch"]["images"] = {}
    try:
        parse_settings(raw, stack="prod")
    except ConfigError:
        pass  # only which keys the parser reads matters here
    # The CoA 3.2 generation's own sections, read only with taskDatabase cosmosdb.
    app = {"clientId": "x", "objectId": "x", "tenantId": "x", "secretExpiresOn": "2027-01-01"}
    raw |= {
        "taskDatabase": "cosmosdb",
        "cosmos": {"localAuthEnabled": True},
        "applicationCredentials": {"tes": app, "triggerservice": app},
    }
    try:
        parse_settings(raw, stack="prod")
    except ConfigError:
        pass
    return seen


def test_every_accepted_key_has_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = accepted_keys(monkeypatch)
    for expected in (
        "network.subnets.acrTasks",
        "batch.images.gen1.nodeAgentSkuId",
        "dataStorageAccounts.containers.access",
    ):
        assert expected in keys, "the parser was not made to read every object"
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| `")]
    missing = []
    for key in sorted(keys):
        top, *rest = key.split(".")
        if not any(
            re.search(rf"`{top}\b", row[0]) and all(re.search(rf"\b{part}\b", " | ".join(row)) for part in rest)
            for row in rows
        ):
            missing.append(key)
    assert not missing, f"docs/configuration.md has no row for {missing}"
