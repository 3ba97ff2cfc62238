"""One production definition (policy/coa_policies/production.py), tested from both sides: the program's guardrails and
the pack's production-only rules agree on every stack name and environment, and on the real stacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from policy_fixtures import compliant

from configuration import guardrails
from offline.harness import ProgramRun
from policy.coa_policies import all_policies
from policy.coa_policies._core import Rule
from policy.coa_policies._production import PRODUCTION_CONFIG, production_of

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = {key: spec["default"] for key, spec in PRODUCTION_CONFIG.items()}
SHARED_KEY_RULE = next(p for p in all_policies() if p.name == "storage-account-shared-key-disabled-production")
ST = "azure-native:storage:StorageAccount"
# (stack, environment, production?)
CASES = [
    ("prod", "dev", True),
    ("production", "dev", True),
    ("genomics-prod", "dev", True),
    ("Genomics-PROD", "dev", True),
    ("prod-eastus2", "dev", True),
    ("production-weu", "dev", True),
    ("live", "prod", True),
    ("dev", "prod", True),
    ("dev", "dev", False),
    ("products-dev", "dev", False),
    ("preprod", "dev", False),
    ("prod2", "dev", False),
    ("staging", "dev", False),
]
# What the program recognised before the definition moved into the pack (components/guardrails.py at 5197dd2).
FORMER_PROGRAM = re.compile(r"^(prod|production)$|-(prod|production)$|^(prod|production)-", re.IGNORECASE)


@pytest.mark.parametrize(("stack", "environment", "expected"), CASES)
def test_program_and_pack_agree(stack: str, environment: str, expected: bool) -> None:
    assert guardrails.is_production(environment, stack) is expected
    urn = f"urn:pulumi:{stack}::coa-lockdown::{ST}::st"
    assert bool(production_of(DEFAULTS, urn, {"tags": {"environment": environment}})) is expected
    account = {**compliant(ST), "tags": {"environment": environment}, "allowSharedKeyAccess": True}
    assert isinstance(SHARED_KEY_RULE, Rule)
    assert bool(SHARED_KEY_RULE.evaluate(account, urn=urn)) is expected


@pytest.mark.parametrize("stack", [s for s, _, _ in CASES] + ["prod-", "-prod", "a-production", "xprod", "prod-a-b"])
def test_the_program_recognises_the_stack_names_it_did_before(stack: str) -> None:
    assert guardrails.is_production("dev", stack) is bool(FORMER_PROGRAM.search(stack))


def test_the_real_stacks_are_what_their_names_and_tags_say(dev: ProgramRun, prod: ProgramRun) -> None:
    for run, expected in ((dev, False), (prod, True)):
        tagged = [r for r in run.resources if isinstance(r.inputs.get("tags"), dict)]
        assert tagged
        for record in tagged:
            environment = record.inputs["tags"]["environment"]
            assert guardrails.is_production(environment, run.stack) is expected
            assert bool(production_of(DEFAULTS, record.urn, record.inputs)) is expected, record.urn


def test_a_tag_cannot_switch_production_off() -> None:
    urn = f"urn:pulumi:genomics-prod::coa-lockdown::{ST}::st"
    assert production_of(DEFAULTS, urn, {"tags": {"environment": "dev"}}) == "stack 'genomics-prod'"
    assert production_of({**DEFAULTS, "production": True}, "", {"tags": {"Environment": "dev"}})


def test_the_program_imports_the_definition_without_the_pack_runtime() -> None:
    """`pulumi up` runs the program in a venv without pulumi_policy (requirements.txt): importing the definition must
    not import the pack's rules."""
    script = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'pulumi_policy':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from configuration import guardrails\n"
        "print(guardrails.is_production('dev', 'genomics-prod'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
