"""`python -m offline diff`: stateful resources a branch would replace or delete, from two offline previews.

Small resources.json documents written here pin the rules (replace, delete, aliases, protection, config keys, exit
codes, formats); the end-to-end cases run the real program for prod twice, once with one config key changed.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import cli, report
from offline.harness import ProgramRun, run_program

REPO = Path(__file__).resolve().parents[2]
PROJECT, STACK = "coa-lockdown", "prod"
RG_TYPE = "azure-native:resources:ResourceGroup"
ACCOUNT_TYPE = "azure-native:storage:StorageAccount"
CONTAINER_TYPE = "azure-native:storage:BlobContainer"
VAULT_TYPE = "azure-native:keyvault:Vault"
SERVER_TYPE = "azure-native:dbforpostgresql:Server"
NSG_TYPE = "azure-native:network:NetworkSecurityGroup"


def urn(token: str, name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${token}" if parent_type else f"pulumi:pulumi:Stack${token}"
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def resource(
    token: str,
    name: str,
    inputs: dict[str, Any],
    *,
    parent_type: str = "",
    protect: bool = False,
    aliases: tuple[str, ...] = (),
    custom: bool = True,
    property_dependencies: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "urn": urn(token, name, parent_type),
        "type": token,
        "name": name,
        "custom": custom,
        "id": "",
        "parent": "",
        "dependencies": [],
        "propertyDependencies": property_dependencies or {},
        "protect": protect,
        "provider": "",
        "deleteBeforeReplace": False,
        "additionalSecretOutputs": [],
        "aliases": list(aliases),
        "inputs": inputs,
    }


def base_resources(**account_inputs: Any) -> list[dict[str, Any]]:
    """A group, a protected storage account with a container, an unprotected vault, a server and an NSG."""
    rg = resource(RG_TYPE, "coa-prod-rg", {"location": "eastus2"})
    account = resource(
        ACCOUNT_TYPE,
        "coa-prod-storage-st",
        {
            "accountName": "stcoaprodp4m9",
            "resourceGroupName": "coa-prod-rg1234",
            "location": "eastus2",
            "encryption": {"requireInfrastructureEncryption": True},
            "allowSharedKeyAccess": False,
            **account_inputs,
        },
        parent_type="coa:storage:Storage",
        protect=True,
    )
    return [
        resource("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}", {}, custom=False),
        rg,
        account,
        resource(
            CONTAINER_TYPE,
            "coa-prod-storage-inputs",
            {"accountName": "stcoaprodp4m9", "resourceGroupName": "coa-prod-rg1234", "containerName": "inputs"},
            parent_type="coa:storage:Storage",
            property_dependencies={"resourceGroupName": [rg["urn"]], "accountName": [account["urn"]]},
        ),
        resource(
            VAULT_TYPE,
            "coa-prod-vault-kv",
            {"vaultName": "kv-coa-prod-p4m9", "resourceGroupName": "coa-prod-rg1234", "location": "eastus2"},
            parent_type="coa:security:KeyVault",
        ),
        resource(
            SERVER_TYPE,
            "coa-prod-postgres-psql",
            {
                "serverName": "psql-coa-prod-p4m9",
                "resourceGroupName": "coa-prod-rg1234",
                "location": "eastus2",
                "backup": {"geoRedundantBackup": "Enabled", "backupRetentionDays": 35},
                "sku": {"name": "Standard_D4ds_v5"},
            },
            parent_type="coa:data:Postgres",
            protect=True,
        ),
        resource(
            NSG_TYPE, "coa-prod-net-nsg-aks", {"networkSecurityGroupName": None}, parent_type="coa:network:Network"
        ),
    ]


def by_name(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in resources if r["name"] == name)


def write_doc(path: Path, resources: list[dict[str, Any]], stack: str = STACK) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"project": PROJECT, "stack": stack, "resources": resources}), encoding="utf-8")
    return path


BASE_CONFIG: dict[str, Any] = {
    "coa-lockdown:environment": "prod",
    "coa-lockdown:location": "eastus2",
    "coa-lockdown:workload": "coa",
    "coa-lockdown:nameSuffix": "p4m9",
    "coa-lockdown:postgres": {"geoRedundantBackup": True, "version": "16"},
    "coa-lockdown:imageScannerPassword": {"secure": "v1:c2VjcmV0LWNpcGhlcnRleHQ="},
}


def write_config(path: Path, **changes: Any) -> Path:
    config = json.loads(json.dumps(BASE_CONFIG))
    for key, value in changes.items():
        if value is None:
            config.pop(f"coa-lockdown:{key}", None)
        else:
            config[f"coa-lockdown:{key}"] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    return path


def run_diff(
    tmp_path: Path,
    head: list[dict[str, Any]],
    *extra: str,
    base: list[dict[str, Any]] | None = None,
    head_config: dict[str, Any] | None = None,
    fmt: str = "json",
) -> tuple[int, str]:
    base_path = write_doc(tmp_path / "base" / "resources.json", base if base is not None else base_resources())
    head_path = write_doc(tmp_path / "head" / "resources.json", head)
    argv = [
        "diff",
        "--stack",
        STACK,
        "--base",
        str(base_path),
        "--head",
        str(head_path),
        "--base-config",
        str(write_config(tmp_path / "base" / "Pulumi.prod.yaml")),
        "--head-config",
        str(write_config(tmp_path / "head" / "Pulumi.prod.yaml", **(head_config or {}))),
        "--format",
        fmt,
        *extra,
    ]
    stdout = io.StringIO()
    code = cli.main(argv, stdout=stdout)
    return code, stdout.getvalue()


def findings(output: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in json.loads(output)["findings"]}


# ---- rules ---------------------------------------------------------------------------------------------------------


def test_the_same_preview_loses_nothing(tmp_path: Path) -> None:
    code, out = run_diff(tmp_path, base_resources())
    document = json.loads(out)
    assert code == 0
    assert document["findings"] == [] and document["passed"] is True
    assert document["configChanges"] == []


def test_renaming_a_resource_that_holds_no_data_is_not_reported(tmp_path: Path) -> None:
    head = base_resources()
    nsg = by_name(head, "coa-prod-net-nsg-aks")
    head[head.index(nsg)] = resource(
        NSG_TYPE, "coa-prod-net-nsg-k8s", {"networkSecurityGroupName": "nsg-k8s"}, parent_type="coa:network:Network"
    )
    code, out = run_diff(tmp_path, head)
    assert (code, findings(out)) == (0, {})


def test_deleting_a_protected_resource_fails_and_names_no_config_key_for_a_code_change(tmp_path: Path) -> None:
    head = [r for r in base_resources() if r["name"] != "coa-prod-storage-st"]
    code, out = run_diff(tmp_path, head)
    found = findings(out)
    assert code == 1
    assert set(found) == {"coa-prod-storage-st"}
    account = found["coa-prod-storage-st"]
    assert (account["action"], account["protected"], account["type"]) == ("delete", True, ACCOUNT_TYPE)
    assert account["configKeys"] == [] and account["note"] == "(no config key: code change)"
    assert json.loads(out)["passed"] is False


def test_a_deletion_caused_by_a_logical_name_change_names_the_workload_key(tmp_path: Path) -> None:
    head = [r for r in base_resources() if r["name"] != "coa-prod-vault-kv"]
    head.append(
        resource(
            VAULT_TYPE,
            "lab-prod-vault-kv",
            {"vaultName": "kv-lab-prod-p4m9", "resourceGroupName": "coa-prod-rg1234", "location": "eastus2"},
            parent_type="coa:security:KeyVault",
        )
    )
    code, out = run_diff(tmp_path, head, head_config={"workload": "lab"})
    vault = findings(out)["coa-prod-vault-kv"]
    # The vault is not protected: listed, exit 0.
    assert code == 0
    assert (vault["action"], vault["protected"], vault["configKeys"]) == ("delete", False, ["workload"])


@pytest.mark.parametrize("alias", ["full-urn", "name-only"])
def test_an_alias_on_the_new_resource_keeps_the_old_one(tmp_path: Path, alias: str) -> None:
    head = base_resources()
    account = by_name(head, "coa-prod-storage-st")
    if alias == "full-urn":
        # Moved under another component: the URN's parent type changes.
        moved = resource(ACCOUNT_TYPE, account["name"], account["inputs"], parent_type="coa:data:Data", protect=True)
        moved["aliases"] = [account["urn"]]
    else:
        moved = resource(
            ACCOUNT_TYPE, "coa-prod-store-st", account["inputs"], parent_type="coa:storage:Storage", protect=True
        )
        # azure-native's own type aliases arrive as empty names; they alias nothing.
        moved["aliases"] = ["", "coa-prod-storage-st"]
    head[head.index(account)] = moved
    code, out = run_diff(tmp_path, head)
    assert (code, findings(out)) == (0, {})


def test_a_move_without_alias_is_a_delete_that_says_how_to_keep_it(tmp_path: Path) -> None:
    head = base_resources()
    account = by_name(head, "coa-prod-storage-st")
    moved = resource(ACCOUNT_TYPE, account["name"], account["inputs"], parent_type="coa:data:Data", protect=True)
    head[head.index(account)] = moved
    code, out = run_diff(tmp_path, head)
    found = findings(out)["coa-prod-storage-st"]
    assert code == 1 and found["action"] == "delete"
    assert found["note"] == f"re-created as {moved['urn']}: add aliases=[{account['urn']!r}] to it to keep the resource"


def test_a_name_change_replaces_the_account_and_its_containers_with_the_config_key(tmp_path: Path) -> None:
    head = base_resources()
    for r in head:
        if r["inputs"].get("accountName") == "stcoaprodp4m9":
            r["inputs"]["accountName"] = "stcoaprodnew1"
    code, out = run_diff(tmp_path, head, head_config={"names": {"storageAccount": "stcoaprodnew1"}})
    found = findings(out)
    assert code == 1
    assert set(found) == {"coa-prod-storage-st", "coa-prod-storage-inputs"}
    account = found["coa-prod-storage-st"]
    assert account["action"] == "replace" and account["protected"] is True
    assert account["configKeys"] == ["names.storageAccount"]
    assert account["changes"] == [
        {
            "input": "accountName",
            "base": "stcoaprodp4m9",
            "head": "stcoaprodnew1",
            "effect": "replace",
            "why": "the account's name is in its ARM id",
            "parent": "",
        }
    ]
    # The container is not protected in this base: it counts as a finding but not towards exit 1.
    assert found["coa-prod-storage-inputs"]["protected"] is False
    assert found["coa-prod-storage-inputs"]["configKeys"] == ["names.storageAccount"]
    assert json.loads(out)["summary"] == {"protected": 1, "unprotected": 1}


def test_a_derived_name_points_at_the_key_it_is_derived_from(tmp_path: Path) -> None:
    head = base_resources()
    by_name(head, "coa-prod-vault-kv")["inputs"]["vaultName"] = "kv-coa-prod-x7y8"
    code, out = run_diff(tmp_path, head, head_config={"nameSuffix": "x7y8"})
    assert code == 0
    assert findings(out)["coa-prod-vault-kv"]["configKeys"] == ["nameSuffix"]


def test_an_input_change_without_config_change_is_a_code_change(tmp_path: Path) -> None:
    head = base_resources()
    by_name(head, "coa-prod-storage-st")["inputs"]["encryption"]["requireInfrastructureEncryption"] = False
    code, out = run_diff(tmp_path, head)
    account = findings(out)["coa-prod-storage-st"]
    assert code == 1
    assert account["changes"][0]["input"] == "encryption.requireInfrastructureEncryption"
    assert account["changes"][0]["effect"] == "create-only"
    assert account["note"] == "(no config key: code change)"


def test_updatable_inputs_are_not_replacements(tmp_path: Path) -> None:
    head = base_resources()
    by_name(head, "coa-prod-storage-st")["inputs"]["allowSharedKeyAccess"] = True
    by_name(head, "coa-prod-postgres-psql")["inputs"]["backup"]["backupRetentionDays"] = 7
    by_name(head, "coa-prod-postgres-psql")["inputs"]["sku"]["name"] = "Standard_D8ds_v5"
    # azure-native compares locations without case or spaces.
    by_name(head, "coa-prod-vault-kv")["inputs"]["location"] = "East US 2"
    code, out = run_diff(tmp_path, head)
    assert (code, findings(out)) == (0, {})


def test_a_create_only_nested_input_names_its_config_key(tmp_path: Path) -> None:
    head = base_resources()
    by_name(head, "coa-prod-postgres-psql")["inputs"]["backup"]["geoRedundantBackup"] = "Disabled"
    code, out = run_diff(tmp_path, head, head_config={"postgres": {"geoRedundantBackup": False, "version": "16"}})
    server = findings(out)["coa-prod-postgres-psql"]
    assert code == 1
    assert server["configKeys"] == ["postgres.geoRedundantBackup"]
    assert [(c["input"], c["base"], c["head"], c["effect"]) for c in server["changes"]] == [
        ("backup.geoRedundantBackup", "Enabled", "Disabled", "create-only")
    ]


def test_a_replaced_group_takes_the_resources_inside_it(tmp_path: Path) -> None:
    head = base_resources()
    for r in head:
        if "location" in r["inputs"] and r["type"] in (RG_TYPE, VAULT_TYPE):
            r["inputs"]["location"] = "westus2"
    code, out = run_diff(tmp_path, head, head_config={"location": "westus2"})
    found = findings(out)
    assert code == 0, "nothing protected in this base moves: the account and server keep their region"
    assert set(found) == {"coa-prod-rg", "coa-prod-vault-kv", "coa-prod-storage-inputs"}
    assert found["coa-prod-rg"]["changes"][0]["effect"] == "replace"
    assert found["coa-prod-vault-kv"]["changes"][0]["effect"] == "create-only"
    # The container's own inputs are unchanged: it goes because its group does.
    container = found["coa-prod-storage-inputs"]
    assert container["changes"][0]["parent"] == "coa-prod-rg"
    assert container["configKeys"] == ["location"]


def test_protection_is_read_from_the_base(tmp_path: Path) -> None:
    head = base_resources()
    vault = by_name(head, "coa-prod-vault-kv")
    vault["inputs"]["vaultName"] = "kv-other"
    vault["protect"] = True
    code, out = run_diff(tmp_path, head)
    assert code == 0 and findings(out)["coa-prod-vault-kv"]["protected"] is False


def test_strict_fails_on_unprotected_stateful_resources(tmp_path: Path) -> None:
    head = [r for r in base_resources() if r["name"] != "coa-prod-vault-kv"]
    assert run_diff(tmp_path / "lenient", head)[0] == 0
    code, out = run_diff(tmp_path / "strict", head, "--strict")
    assert code == 1 and json.loads(out)["passed"] is False


def test_a_protected_resource_of_any_type_counts_as_stateful(tmp_path: Path) -> None:
    base = base_resources()
    nsg = by_name(base, "coa-prod-net-nsg-aks")
    nsg["protect"] = True
    code, out = run_diff(tmp_path, [r for r in base if r is not nsg], base=base)
    assert code == 1 and findings(out)["coa-prod-net-nsg-aks"]["action"] == "delete"


# ---- formats -------------------------------------------------------------------------------------------------------


def _renamed_account() -> list[dict[str, Any]]:
    head = [r for r in base_resources() if r["name"] != "coa-prod-vault-kv"]
    by_name(head, "coa-prod-storage-st")["inputs"]["accountName"] = "stcoaprodnew1"
    return head


def test_text_report(tmp_path: Path) -> None:
    code, out = run_diff(
        tmp_path, _renamed_account(), head_config={"names": {"storageAccount": "stcoaprodnew1"}}, fmt="text"
    )
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(f"Stateful resources of stack {STACK} that would be replaced or deleted (")
    assert '    names.storageAccount: (unset) -> "stcoaprodnew1"' in lines
    account = lines.index(
        "REPLACE  coa-prod-storage-st (storage:StorageAccount)  PROTECTED  holds workflow inputs, outputs and logs"
    )
    assert lines[account + 1] == (
        '    accountName: "stcoaprodp4m9" -> "stcoaprodnew1": the account\'s name is in its ARM id; '
        "azure-native replaces the resource"
    )
    assert lines[account + 2] == "    config: names.storageAccount"
    # The container's own inputs are as before; it goes with its account.
    container = lines.index("REPLACE  coa-prod-storage-inputs (storage:BlobContainer)  holds the container's blobs")
    assert lines[container + 1] == (
        "    accountName: inside coa-prod-storage-st, which is replaced: Azure deletes it with its parent"
    )
    assert lines[container + 2] == "    config: names.storageAccount"
    vault = lines.index("DELETE   coa-prod-vault-kv (keyvault:Vault)  holds keys and secrets")
    assert lines[vault + 1 : vault + 3] == [
        "    no longer in the program, and no resource aliases its URN",
        "    (no config key: code change)",
    ]
    assert lines[-1].startswith(
        "FAILED: 1 protected stateful resource would be replaced or deleted (and 2 unprotected)"
    )


def test_text_report_when_nothing_is_lost_and_the_base_config_is_missing(tmp_path: Path) -> None:
    base_path = write_doc(tmp_path / "base.json", base_resources())
    head_path = write_doc(tmp_path / "head.json", base_resources())
    stdout = io.StringIO()
    code = cli.main(["diff", "--stack", STACK, "--base", str(base_path), "--head", str(head_path)], stdout=stdout)
    assert code == 0
    assert stdout.getvalue().splitlines()[1:] == [
        "Config changes: (config not compared: no --base-config)",
        "",
        "PASSED: no stateful resource would be replaced or deleted",
    ]


def test_the_base_config_beside_the_base_preview_is_used_by_default(tmp_path: Path) -> None:
    base_path = write_doc(tmp_path / "base" / "resources.json", base_resources())
    write_config(tmp_path / "base" / "Pulumi.prod.yaml")
    head_path = write_doc(tmp_path / "head.json", _renamed_account())
    head_config = write_config(tmp_path / "head.yaml", names={"storageAccount": "stcoaprodnew1"})
    stdout = io.StringIO()
    argv = ["diff", "--stack", STACK, "--base", str(base_path), "--head", str(head_path)]
    code = cli.main([*argv, "--head-config", str(head_config), "--format", "json"], stdout=stdout)
    assert code == 1
    assert findings(stdout.getvalue())["coa-prod-storage-st"]["configKeys"] == ["names.storageAccount"]


def test_json_report_masks_secret_config_values(tmp_path: Path) -> None:
    code, out = run_diff(
        tmp_path, base_resources(), head_config={"imageScannerPassword": {"secure": "v1:b3RoZXItY2lwaGVydGV4dA=="}}
    )
    document = json.loads(out)
    assert code == 0
    assert document["configChanges"] == [{"key": "imageScannerPassword", "base": "[secret]", "head": "[secret]"}]
    assert "c2VjcmV0" not in out and "b3RoZXI" not in out


def test_markdown_report_is_a_table(tmp_path: Path) -> None:
    code, out = run_diff(
        tmp_path, _renamed_account(), head_config={"names": {"storageAccount": "stcoaprodnew1"}}, fmt="markdown"
    )
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == f"### Stateful resources replaced or deleted: stack `{STACK}`"
    assert "| Action | Resource | Type | Protected | Why | Config key |" in lines
    assert (
        '| replace | `coa-prod-storage-st` | storage:StorageAccount | **yes** | `accountName` "stcoaprodp4m9" → '
        '"stcoaprodnew1" (replace) | names.storageAccount |'
    ) in lines
    assert (
        "| delete | `coa-prod-vault-kv` | keyvault:Vault | no | removed from the program, no alias | "
        "(no config key: code change) |"
    ) in lines


# ---- errors --------------------------------------------------------------------------------------------------------


def test_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_doc(tmp_path / "good.json", base_resources())
    dev = write_doc(tmp_path / "dev.json", base_resources(), stack="dev")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    not_a_preview = tmp_path / "other.json"
    not_a_preview.write_text('{"resources": 3}', encoding="utf-8")
    no_type = tmp_path / "no-type.json"
    no_type.write_text('{"resources": [{"urn": "urn:pulumi:prod::p::t::n"}]}', encoding="utf-8")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("config: [\n  unclosed", encoding="utf-8")
    cases = {
        "missing": (["--base", str(tmp_path / "nope.json"), "--head", str(good)], "nope.json: no such file"),
        "json": (["--base", str(broken), "--head", str(good)], "not valid JSON"),
        "shape": (["--base", str(good), "--head", str(not_a_preview)], "not a resources.json"),
        "record": (["--base", str(good), "--head", str(no_type)], "resources[0] has no urn, type and name"),
        "stack": (["--base", str(dev), "--head", str(good)], "is a preview of stack 'dev', not 'prod'"),
        "yaml": (["--base", str(good), "--head", str(good), "--base-config", str(bad_yaml)], "not valid YAML"),
        "no-head": (["--base", str(good), "--head", str(tmp_path / "none.json")], "run `make diff STACK=prod`"),
    }
    for label, (args, message) in cases.items():
        code = cli.main(["diff", "--stack", STACK, *args], stdout=io.StringIO())
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, label
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (label, err)


def test_a_missing_stack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["diff"])
    assert exited.value.code == 2
    assert "the following arguments are required: --stack" in capsys.readouterr().err


# ---- end to end: the real program ----------------------------------------------------------------------------------


def _scratch_copy(root: Path, overrides: dict[str, Any]) -> Path:
    """The repository with Pulumi.prod.yaml changed, as a developer's branch would have it (cf. stackquery)."""
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {"Pulumi.prod.yaml", "out"}:
            (root / entry.name).symlink_to(entry)
    document = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    document["config"].update(overrides)
    (root / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory, prod: ProgramRun) -> dict[str, Path]:
    """resources.json of the repository's prod stack (the session's run) and of two branches, written as
    `python -m offline preview` writes it."""
    root = tmp_path_factory.mktemp("diff-e2e")
    programs = {
        "base": REPO,
        "names": _scratch_copy(root / "names", {"coa-lockdown:names": {"storageAccount": "stcoaprodnew1"}}),
        "location": _scratch_copy(root / "location", {"coa-lockdown:location": "westus2"}),
    }
    paths: dict[str, Path] = {}
    for label, program in programs.items():
        run = prod if label == "base" else run_program(program, STACK)
        out = root / "out" / label / "resources.json"
        out.parent.mkdir(parents=True)
        out.write_text(
            json.dumps(report.resources_document(run.project, run.stack, run.resources), indent=2, default=str)
        )
        paths[f"{label}-resources"] = out
        paths[f"{label}-config"] = program / "Pulumi.prod.yaml"
    return paths


def _diff_subprocess(previews: dict[str, Path], head: str, fmt: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "offline", "diff", "--stack", STACK, "--format", fmt]
    command += ["--base", str(previews["base-resources"]), "--base-config", str(previews["base-config"])]
    command += ["--head", str(previews[f"{head}-resources"]), "--head-config", str(previews[f"{head}-config"])]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_e2e_a_new_storage_account_name_replaces_the_protected_account(previews: dict[str, Path]) -> None:
    result = _diff_subprocess(previews, "names", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    found = {f["name"]: f for f in document["findings"]}
    account = found["coa-prod-storage-st"]
    assert (account["type"], account["action"], account["protected"]) == (ACCOUNT_TYPE, "replace", True)
    assert account["configKeys"] == ["names.storageAccount"]
    assert [(c["input"], c["base"], c["head"]) for c in account["changes"]] == [
        ("accountName", "stcoaprodp4m9", "stcoaprodnew1")
    ]
    # Only the account and its containers hold data under that name.
    assert {f["type"] for f in document["findings"]} == {ACCOUNT_TYPE, CONTAINER_TYPE}
    assert all(f["configKeys"] == ["names.storageAccount"] for f in document["findings"])
    assert document["configChanges"] == [{"key": "names.storageAccount", "base": None, "head": "stcoaprodnew1"}]


def test_e2e_text_report_names_the_config_key(previews: dict[str, Path]) -> None:
    result = _diff_subprocess(previews, "names", "text")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("REPLACE  coa-prod-storage-st (storage:StorageAccount)  PROTECTED") for line in lines)
    assert "    config: names.storageAccount" in lines
    assert lines[-1].startswith("FAILED: ")


def test_e2e_a_new_region_replaces_every_data_store(previews: dict[str, Path]) -> None:
    result = _diff_subprocess(previews, "location", "json")
    assert result.returncode == 1, result.stderr
    found = {f["type"]: f for f in json.loads(result.stdout)["findings"] if not any(c["parent"] for c in f["changes"])}
    for token in (ACCOUNT_TYPE, VAULT_TYPE, SERVER_TYPE, "azure-native:operationalinsights:Workspace"):
        assert found[token]["protected"] is True, token
        assert found[token]["configKeys"] == ["location"], token
        assert [(c["input"], c["base"], c["head"]) for c in found[token]["changes"]] == [
            ("location", "eastus2", "westus2")
        ], token


def test_e2e_the_unchanged_branch_loses_nothing(previews: dict[str, Path]) -> None:
    command = [sys.executable, "-m", "offline", "diff", "--stack", STACK, "--format", "json"]
    command += ["--base", str(previews["base-resources"]), "--head", str(previews["base-resources"])]
    command += ["--base-config", str(previews["base-config"])]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []
