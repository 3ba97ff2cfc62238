"""scripts/bootstrap-state.sh against a stub `az` that records every call.

Covers argument validation, --dry-run (prints the commands, calls nothing), a first run that creates
everything with the hardened settings, and a second run over existing resources that creates nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "bootstrap-state.sh"
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
TENANT = "11111111-1111-1111-1111-111111111111"
OPERATOR = "22222222-2222-2222-2222-222222222222"
REQUIRED = [
    "--subscription-id", SUBSCRIPTION,
    "--location", "westeurope",
    "--resource-group", "rg-coa-state",
    "--storage-account", "stcoastate01",
    "--key-vault", "kv-coa-state-01",
    "--github-repo", "acme/coa-lockdown",
]  # fmt: skip

# Logs each call as one JSON array; answers look-ups as if nothing exists (STUB_AZ_MODE=empty) or as
# if everything exists (STUB_AZ_MODE=existing).
STUB_AZ = r"""#!/usr/bin/env bash
# JSON-encodes the arguments in bash: a Python start-up per call made a run take seconds under load.
line='[' sep=''
for arg in "$@"; do
  arg=${arg//\\/\\\\} arg=${arg//\"/\\\"} arg=${arg//$'\n'/\\n} arg=${arg//$'\t'/\\t}
  line+="$sep\"$arg\"" sep=', '
done
printf '%s]\n' "$line" >> "$STUB_AZ_LOG"
args=" $* "
case "$args" in
  " account show "*"tenantId"*) echo "__TENANT__"; exit 0 ;;
  " account show "*) exit 0 ;;
  *" ad signed-in-user show "*) echo "__OPERATOR__"; exit 0 ;;
  *" storage account check-name "*) echo true; exit 0 ;;
  *" ad app create "*"-preview "*) echo "app-preview-id"; exit 0 ;;
  *" ad app create "*"-deploy "*) echo "app-deploy-id"; exit 0 ;;
  *" ad sp create "*"app-preview-id"*) echo "sp-preview-id"; exit 0 ;;
  *" ad sp create "*"app-deploy-id"*) echo "sp-deploy-id"; exit 0 ;;
  *" keyvault list-deleted "*) exit 0 ;;
esac
if [ "$STUB_AZ_MODE" = existing ]; then
  case "$args" in
    *" ad app list "*"-preview "*) echo "app-preview-id" ;;
    *" ad app list "*"-deploy "*) echo "app-deploy-id" ;;
    *" ad sp show "*"app-preview-id"*) echo "sp-preview-id" ;;
    *" ad sp show "*"app-deploy-id"*) echo "sp-deploy-id" ;;
    *" show "*|*" list "*) echo "existing" ;;
  esac
  exit 0
fi
case "$args" in
  *" show "*) echo "ERROR: (ResourceNotFound)" >&2; exit 3 ;;
esac
exit 0
""".replace("__TENANT__", TENANT).replace("__OPERATOR__", OPERATOR)


@pytest.fixture
def stub_az(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(STUB_AZ, encoding="utf-8")
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "az-calls.jsonl"
    log.touch()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STUB_AZ_LOG": str(log),
    }
    env["STUB_AZ_MODE"] = "empty"
    return env, log


def bootstrap(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def value_after(call: list[str], flag: str) -> str:
    return call[call.index(flag) + 1]


def find(all_calls: list[list[str]], *prefix: str) -> list[list[str]]:
    return [call for call in all_calls if call[: len(prefix)] == list(prefix)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [],
            "missing required option(s): --subscription-id --location --resource-group --storage-account",
        ),
        ([*REQUIRED[:-2]], "missing required option(s): --github-repo"),
        (
            [*REQUIRED, "--storage-account", "St-Coa"],
            "--storage-account 'St-Coa': must be 3-24 lowercase",
        ),
        (
            [*REQUIRED, "--subscription-id", "not-a-guid"],
            "--subscription-id 'not-a-guid': must be a subscription GUID",
        ),
        (
            [*REQUIRED, "--data-account-id", "stseqout01"],
            "--data-account-id 'stseqout01': must be a storage account id",
        ),
        (
            [*REQUIRED, "--key-vault", "kv--state"],
            "--key-vault 'kv--state': must not contain '--'",
        ),
        (
            [*REQUIRED, "--github-repo", "coa-lockdown"],
            "--github-repo 'coa-lockdown': must be OWNER/REPO",
        ),
        (
            [*REQUIRED, "--retention-days", "400"],
            "--retention-days '400': must be between 7 and 365",
        ),
        ([*REQUIRED, "--sku", "Premium_LRS"], "--sku 'Premium_LRS': must be one of"),
        ([*REQUIRED, "--network", "private"], "--network private needs --pe-subnet-id"),
        (
            [*REQUIRED, "--assignable-role-ids", "abc"],
            "--assignable-role-ids 'abc': every entry must be a role",
        ),
        (
            [*REQUIRED, "--deploy-scope", "/subscriptions/x"],
            "--deploy-scope '/subscriptions/x': must be",
        ),
        ([*REQUIRED, "--location"], "--location needs a value"),
        ([*REQUIRED, "--colour", "blue"], "unknown option '--colour'"),
        ([*REQUIRED, "stray"], "unexpected argument 'stray'"),
    ],
)
def test_argument_errors_name_the_option_and_call_nothing(
    stub_az: tuple[dict[str, str], Path], args: list[str], message: str
) -> None:
    env, log = stub_az
    result = bootstrap(env, "--dry-run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert calls(log) == []


def test_dry_run_prints_the_hardened_commands_and_calls_nothing(
    stub_az: tuple[dict[str, str], Path],
) -> None:
    env, log = stub_az
    result = bootstrap(env, "--dry-run", *REQUIRED)
    assert result.returncode == 0, result.stderr
    assert calls(log) == [], "a dry run must not call az"
    out = result.stdout
    account = next(line for line in out.splitlines() if line.startswith("+ az storage account create"))
    for setting in ("--allow-shared-key-access false", "--allow-blob-public-access false",
                    "--min-tls-version TLS1_2", "--require-infrastructure-encryption true",
                    "--public-network-access Enabled"):  # fmt: skip
        assert setting in account, setting
    assert "--enable-versioning true" in out and "--enable-delete-retention true --delete-retention-days 30" in out
    assert "+ az storage container-rm create --storage-account stcoastate01" in out
    assert "--enable-rbac-authorization true --enable-purge-protection true" in out
    assert "+ az keyvault key create --vault-name kv-coa-state-01 --name pulumi-state --kty RSA" in out
    assert '"subject":"repo:acme/coa-lockdown:pull_request"' in out
    assert '"subject":"repo:acme/coa-lockdown:ref:refs/heads/main"' in out
    assert '"subject":"repo:acme/coa-lockdown:environment:prod"' in out
    assert "PULUMI_BACKEND_URL=azblob://pulumi-state?storage_account=stcoastate01" in out
    assert "PULUMI_SECRETS_PROVIDER=azurekeyvault://kv-coa-state-01.vault.azure.net/keys/pulumi-state" in out
    assert "client-secret" not in out and "password" not in out.lower()


def test_first_run_creates_everything_with_least_privilege_roles(
    stub_az: tuple[dict[str, str], Path],
) -> None:
    env, log = stub_az
    role_ids = "ba92f5b4-2d11-453d-a403-e96b0029c9fe,7f951dda-4ed3-4680-a7ca-43fe172d538d"
    result = bootstrap(env, *REQUIRED, "--assignable-role-ids", role_ids)
    assert result.returncode == 0, result.stderr
    made = calls(log)
    (account,) = find(made, "storage", "account", "create")
    assert value_after(account, "--allow-shared-key-access") == "false"
    assert value_after(account, "--sku") == "Standard_ZRS"
    assert find(made, "keyvault", "key", "create")
    assert len(find(made, "ad", "app", "create")) == 2

    subjects = [json.loads(value_after(call, "--parameters"))["subject"]
                for call in find(made, "ad", "app", "federated-credential", "create")]  # fmt: skip
    assert subjects == ["repo:acme/coa-lockdown:pull_request", "repo:acme/coa-lockdown:environment:drift",
                        "repo:acme/coa-lockdown:ref:refs/heads/main",
                        "repo:acme/coa-lockdown:environment:prod"]  # fmt: skip

    account_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-coa-state/providers/Microsoft.Storage/storageAccounts/stcoastate01"
    container = f"{account_id}/blobServices/default/containers/pulumi-state"
    key = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-coa-state/providers/Microsoft.KeyVault/vaults/kv-coa-state-01/keys/pulumi-state"
    grants = {(value_after(c, "--assignee-object-id"), value_after(c, "--role"), value_after(c, "--scope"))
              for c in find(made, "role", "assignment", "create")}  # fmt: skip
    subscription = f"/subscriptions/{SUBSCRIPTION}"
    assert grants == {
        (OPERATOR, "Key Vault Crypto Officer", key.rsplit("/keys/", 1)[0]),
        (OPERATOR, "Storage Blob Data Contributor", container),
        ("sp-preview-id", "Reader", subscription),
        ("sp-preview-id", "Azure Kubernetes Service Cluster User Role", subscription),
        ("sp-preview-id", "Azure Kubernetes Service RBAC Reader", subscription),
        ("sp-preview-id", "Storage Blob Data Reader", container),
        ("sp-preview-id", "Key Vault Crypto User", key),
        ("sp-deploy-id", "Contributor", subscription),
        ("sp-deploy-id", "Role Based Access Control Administrator", subscription),
        ("sp-deploy-id", "coa-lockdown-github-lock-operator", subscription),
        ("sp-deploy-id", "coa-lockdown-github-policy-assigner", subscription),
        ("sp-deploy-id", "coa-lockdown-github-policy-author", subscription),
        ("sp-deploy-id", "Storage Blob Data Contributor", container),
        ("sp-deploy-id", "Key Vault Crypto User", key),
    }
    # Production stacks lock their data stores, and every stack assigns the image admission policy to its cluster;
    # each custom role holds those actions and nothing else.
    roles = {
        role["Name"]: role
        for role in (
            json.loads(value_after(d, "--role-definition")) for d in find(made, "role", "definition", "create")
        )
    }
    assert set(roles) == {
        "coa-lockdown-github-lock-operator",
        "coa-lockdown-github-policy-assigner",
        "coa-lockdown-github-policy-author",
    }
    assert all(role["AssignableScopes"] == [subscription] for role in roles.values())
    locks, policy = roles["coa-lockdown-github-lock-operator"], roles["coa-lockdown-github-policy-assigner"]
    assert sorted(locks["Actions"]) == [f"Microsoft.Authorization/locks/{a}" for a in ("delete", "read", "write")]
    assert sorted(policy["Actions"]) == [
        f"Microsoft.Authorization/policyAssignments/{a}" for a in ("delete", "read", "write")
    ]
    # Definitions only: no policyExemptions/*, with which the deploy identity could exempt its own Batch account.
    assert sorted(roles["coa-lockdown-github-policy-author"]["Actions"]) == [
        f"Microsoft.Authorization/policyDefinitions/{a}" for a in ("delete", "read", "write")
    ]
    (rbac_admin,) = [c for c in find(made, "role", "assignment", "create") if "--condition" in c]
    condition = value_after(rbac_admin, "--condition")
    assert "ba92f5b4-2d11-453d-a403-e96b0029c9fe, 7f951dda-4ed3-4680-a7ca-43fe172d538d" in condition
    assert "roleAssignments/write" in condition and "roleAssignments/delete" in condition
    assert (
        f"AZURE_CLIENT_ID=app-deploy-id\nAZURE_PREVIEW_CLIENT_ID=app-preview-id\nAZURE_TENANT_ID={TENANT}"
        in result.stdout
    )


def test_second_run_over_existing_resources_creates_nothing(
    stub_az: tuple[dict[str, str], Path],
) -> None:
    env, log = stub_az
    env["STUB_AZ_MODE"] = "existing"
    result = bootstrap(env, *REQUIRED)
    assert result.returncode == 0, result.stderr
    made = calls(log)
    created = [call for call in made if "create" in call[:5] and call[:2] != ["group", "create"]
               and call[:2] != ["lock", "create"]]  # fmt: skip
    assert created == [], f"re-run created: {created}"
    # Custom roles made by an older bootstrap get this version's actions.
    updated = {
        json.loads(value_after(c, "--role-definition"))["Name"] for c in find(made, "role", "definition", "update")
    }
    assert "coa-lockdown-github-policy-author" in updated and "coa-lockdown-github-lock-operator" in updated
    (update,) = find(made, "storage", "account", "update")
    assert value_after(update, "--allow-shared-key-access") == "false"


def test_a_real_run_requires_the_azure_cli(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT), *REQUIRED],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "the Azure CLI (az) is not on PATH" in result.stderr


def test_a_data_account_gets_a_role_administrator_limited_to_the_workloads_data_roles(
    stub_az: tuple[dict[str, str], Path],
) -> None:
    """dataStorageAccounts with roleAssignments: stack: the deploy identity may assign there exactly the four roles
    components/data_storage.py grants, and nothing else, on that account only."""
    env, log = stub_az
    account = (
        "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/"
        "Microsoft.Storage/storageAccounts/stseqout01"
    )
    result = bootstrap(env, *REQUIRED, "--data-account-id", account)
    assert result.returncode == 0, result.stderr
    (grant,) = [c for c in find(calls(log), "role", "assignment", "create") if value_after(c, "--scope") == account]
    assert value_after(grant, "--assignee-object-id") == "sp-deploy-id"
    assert value_after(grant, "--role") == "Role Based Access Control Administrator"
    condition = value_after(grant, "--condition")
    from components.contracts.roles import ROLES

    data_roles = ("Reader", "Storage Blob Delegator", "Storage Blob Data Reader", "Storage Blob Data Contributor")
    assert condition.count(", ".join(ROLES[r] for r in data_roles)) == 2  # write and delete both limited
    assert ROLES["Storage Blob Data Contributor"] in condition and "Owner" not in condition
