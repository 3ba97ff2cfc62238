"""Coverage: the real pack, over gRPC, says per rule how many resources it judged; the preview writes it to the text
report, policy.json and policy.sarif, so a rule that looked at nothing is named instead of passing silently."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline import cli
from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
STATEFUL = (
    "azure-native:storage:StorageAccount",
    "azure-native:keyvault:Vault",
    "azure-native:dbforpostgresql:Server",
    "azure-native:operationalinsights:Workspace",
)


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(PACK, config={"storage-account-tls-1-2-minimum": "disabled"}, timeout=60) as analyzer:
        yield analyzer


def test_resource_rules_count_the_resources_of_their_types_and_skip_what_is_not_theirs(
    pack: PolicyPackAnalyzer, dev: ProgramRun
) -> None:
    pack.analyze(dev.resources)
    types = Counter(r.type for r in dev.resources)
    assert pack.evaluated["storage-account-https-only"] == types["azure-native:storage:StorageAccount"] == 1
    assert pack.evaluated["acr-cache-rule-trusted-upstream"] == types["azure-native:containerregistry:CacheRule"] > 1
    # Production-only rules answer "not applicable" outside production; rules for absent types judge nothing.
    assert pack.evaluated["storage-account-shared-key-disabled-production"] == 0
    assert pack.evaluated["cosmosdb-local-auth-disabled"] == 0
    # A disabled rule runs nowhere and is not counted.
    assert "storage-account-tls-1-2-minimum" not in pack.evaluated


def test_stack_rules_count_their_subjects_or_nothing_when_not_applicable(
    pack: PolicyPackAnalyzer, dev: ProgramRun, prod: ProgramRun
) -> None:
    pack.analyze(dev.resources)
    assert pack.evaluated["stateful-resources-protected-in-production"] == 0  # dev is not production
    assert pack.evaluated["data-account-private-endpoint"] == 0  # no storage account outside the stack
    assert pack.evaluated["aks-image-admission-enforced"] == 1
    pack.analyze(prod.resources)
    assert pack.evaluated["stateful-resources-protected-in-production"] == sum(
        r.type in STATEFUL for r in prod.resources
    )
    assert pack.evaluated["storage-account-shared-key-disabled-production"] == 1


def test_preview_reports_coverage_in_text_policy_json_and_sarif(dev: ProgramRun, tmp_path: Path) -> None:
    options = cli.PreviewOptions(stack="dev", program=REPO, out=tmp_path / "out", format="text", policy_pack=PACK)
    stdout = io.StringIO()
    assert cli.preview(options, stdout=stdout, runner=lambda _p, _s: dev) == 0
    policy = json.loads((tmp_path / "out" / "policy.json").read_text())
    evaluated, idle = policy["coverage"]["evaluated"], policy["coverage"]["idleRules"]
    assert evaluated["storage-account-https-only"] == 1 and "storage-account-https-only" not in idle
    assert "cosmosdb-local-auth-disabled" in idle and evaluated["cosmosdb-local-auth-disabled"] == 0
    assert idle == sorted(rule for rule, count in evaluated.items() if count == 0)
    assert {r["name"]: r["evaluated"] for r in policy["rules"]} == evaluated
    run = json.loads((tmp_path / "out" / "policy.sarif").read_text())["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {name: r["properties"]["evaluatedResources"] for name, r in rules.items()} == evaluated
    assert run["properties"]["rulesJudgingNoResource"] == idle
    assert not any(tag.startswith("subject:") for r in rules.values() for tag in r["properties"]["tags"])
    text = stdout.getvalue()
    assert f"Coverage: {len(evaluated) - len(idle)} of {len(evaluated)} rules judged at least one resource." in text
    assert "cosmosdb-local-auth-disabled" in text.split("Rules that judged no resource:", 1)[1].splitlines()[0]
