"""policy.sarif points at the code that creates each resource: the component file and line, not the stack file."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.harness import run_program
from offline.records import ResourceRecord
from offline.report import Rule, SourceLocator, findings_of, sarif_document

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prod() -> list[ResourceRecord]:
    return run_program(REPO, "prod").resources


@pytest.fixture(scope="module")
def locator() -> SourceLocator:
    return SourceLocator(REPO, "prod", base=REPO)


def _line(uri: str, line: int) -> str:
    return (REPO / uri).read_text(encoding="utf-8").splitlines()[line - 1]


def _constructor(resource_type: str) -> str:
    """`storage.StorageAccount(` for azure-native:storage:StorageAccount; `Provider(` for a provider."""
    cls = resource_type.rsplit(":", 1)[-1]
    return "Provider(" if resource_type.startswith("pulumi:providers:") else f"{cls}("


def _in_component(record: ResourceRecord) -> bool:
    qualified = record.urn.split("::")[2]
    return any(part.startswith("coa:") for part in qualified.split("$")[:-1])


def test_sarif_of_prod_points_every_component_resource_at_its_constructor(
    prod: list[ResourceRecord], locator: SourceLocator
) -> None:
    violations = [
        {"policy_name": "every-resource", "enforcement_level": "advisory", "severity": "low", "urn": r.urn}
        for r in prod
        if r.type != "pulumi:pulumi:Stack"
    ]
    rule = Rule("every-resource", "one finding per resource", "advisory", "low")
    sarif = sarif_document("coa-hipaa", "", [rule], findings_of(violations, prod), locator)
    by_urn = {r.urn: r for r in prod}
    components = 0
    for result in sarif["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        uri, line = physical["artifactLocation"]["uri"], physical["region"]["startLine"]
        record = by_urn[result["properties"]["urn"]]
        assert line > 1 and uri != "Pulumi.prod.yaml", record.urn
        assert _constructor(record.type) in _line(uri, line), (record.urn, uri, line)
        if _in_component(record):
            assert uri.startswith("components/"), (record.urn, uri)
            components += 1
    assert components > 100

    def where(token: str, name: str) -> tuple[str, str]:
        result = next(r for r in sarif["runs"][0]["results"] if r["properties"]["urn"].endswith(f"{token}::{name}"))
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        return uri, _line(uri, physical["region"]["startLine"]).strip()

    assert where("azure-native:storage:StorageAccount", "coa-prod-storage-st") == (
        "components/storage.py",
        "account = storage.StorageAccount(",
    )
    assert where("azure-native:keyvault:Secret", "coa-prod-vault-postgres-admin")[0] == "components/keyvault.py"
    # One constructor, many resources: the diagnostics helper builds every DiagnosticSetting.
    assert where("azure-native:monitor:DiagnosticSetting", "coa-prod-storage-st-diag") == (
        "components/monitoring.py",
        "return monitor.DiagnosticSetting(",
    )
    # An aliased module (`from pulumi_azure_native import dbforpostgresql as pg`) and a component class.
    assert where("azure-native:dbforpostgresql:Server", "coa-prod-postgres-psql") == (
        "components/postgres.py",
        "server = pg.Server(",
    )
    assert where("coa:network:PrivateEndpoint", "coa-prod-storage-blob") == (
        "components/storage.py",
        "endpoint = PrivateEndpoint(",
    )
    assert where("azure-native:network:PrivateEndpoint", "coa-prod-storage-blob-pep")[0] == (
        "components/private_endpoint.py"
    )


def _program(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


STORAGE_COMPONENT = """import pulumi
from pulumi_azure_native import storage


class Store(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:storage:Store", name, None, opts)
        self.logs = storage.StorageAccount(
            f"{name}-logs",
            kind="StorageV2",
        )
        self.data = storage.StorageAccount(
            f"{name}-st",
            kind="StorageV2",
        )
"""


def test_a_virtualenv_in_the_program_does_not_hide_the_program(tmp_path: Path) -> None:
    """`.venv` sorts before every package name; hundreds of its files must not crowd out the program's."""
    files = {f".venv/lib/site-packages/pkg{i:03}/mod.py": "storage.StorageAccount('x')\n" for i in range(500)}
    program = _program(
        tmp_path, {**files, "__main__.py": "import components\n", "components/store.py": STORAGE_COMPONENT}
    )
    locator = SourceLocator(program, "prod", base=tmp_path)
    urn = "urn:pulumi:prod::demo::demo:storage:Store$azure-native:storage:StorageAccount::main-st"
    assert locator.locate("azure-native:storage:StorageAccount", urn, "main-st") == ("components/store.py", 12)
    # The name picks between two constructors of the same type in one file.
    assert locator.locate("azure-native:storage:StorageAccount", urn, "main-logs") == ("components/store.py", 8)


def test_the_file_declaring_the_parent_component_wins(tmp_path: Path) -> None:
    other = STORAGE_COMPONENT.replace("demo:storage:Store", "demo:storage:Archive").replace("Store(", "Archive(")
    program = _program(tmp_path, {"components/archive.py": other, "components/store.py": STORAGE_COMPONENT})
    locator = SourceLocator(program, "prod", base=tmp_path)
    for parent, expected in (("Store", "components/store.py"), ("Archive", "components/archive.py")):
        urn = f"urn:pulumi:prod::demo::demo:storage:{parent}$azure-native:storage:StorageAccount::x-st"
        assert locator.locate("azure-native:storage:StorageAccount", urn, "x-st") == (expected, 12)
    # The component resource itself: the call of its class, wherever it is imported (relative imports too).
    main = "from components.store import Store\n\nstore = Store('main')\n"
    app = "from .store import Store\n\n\ndef build():\n    return Store('app')\n"
    program = _program(tmp_path, {"__main__.py": main, "components/app.py": app})
    locator = SourceLocator(program, "prod", base=tmp_path)
    assert locator.locate("demo:storage:Store", "", "main") == ("__main__.py", 3)
    assert locator.locate("demo:storage:Store", "", "app") == ("components/app.py", 5)


def test_without_a_name_the_first_constructor_in_the_file_is_taken(tmp_path: Path) -> None:
    text = "from pulumi_azure_native import storage\n\n\ndef make():\n    return storage.StorageAccount(name)\n\n\n"
    program = _program(tmp_path, {"__main__.py": text + "storage.StorageAccount('top')\n"})
    assert SourceLocator(program, "dev", base=tmp_path).locate("azure-native:storage:StorageAccount") == (
        "__main__.py",
        5,
    )


def test_a_file_that_does_not_parse_is_still_searched(tmp_path: Path) -> None:
    program = _program(tmp_path, {"__main__.py": "vault = keyvault.Vault(\n", "lib.py": "def broken(:\n"})
    locator = SourceLocator(program, "dev", base=tmp_path)
    assert locator.locate(
        "azure-native:keyvault:Vault", "urn:pulumi:dev::p::azure-native:keyvault:Vault::kv", "kv"
    ) == (
        "__main__.py",
        1,
    )
    assert locator.locate("pulumi:pulumi:Stack") == ("Pulumi.dev.yaml", 1)
