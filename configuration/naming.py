"""Physical names that Azure constrains, checked in one place (CAF abbreviations, length and character rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    description: str


# Azure's rules for the globally unique names we set explicitly (docs: "Naming rules and restrictions for Azure
# resources"). Everything else is autonamed by Pulumi.
RULES: dict[str, NameRule] = {
    "storage_account": NameRule(re.compile(r"^[a-z0-9]{3,24}$"), "3-24 lowercase letters and digits"),
    "batch_account": NameRule(re.compile(r"^[a-z0-9]{3,24}$"), "3-24 lowercase letters and digits"),
    "key_vault": NameRule(
        re.compile(r"^(?=.{3,24}$)[a-zA-Z](?:[a-zA-Z0-9]|-(?!-))*[a-zA-Z0-9]$"),
        "3-24 letters, digits and single hyphens, starting with a letter and not ending with a hyphen",
    ),
    "registry": NameRule(re.compile(r"^[a-zA-Z0-9]{5,50}$"), "5-50 letters and digits"),
    "postgres_server": NameRule(
        re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"),
        "3-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
    ),
    "cluster": NameRule(
        re.compile(r"^(?=.{1,63}$)[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?$"),
        "1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit",
    ),
    # The first label of <name>.documents.azure.com; only stacks with taskDatabase cosmosdb have one (cosmos.accountName).
    "cosmos_account": NameRule(
        re.compile(r"^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$"),
        "3-44 lowercase letters, digits and hyphens, starting and ending with a letter or digit",
    ),
}
# The names every stack has (config `names.*`); the others belong to one generation's section.
STACK_NAMES = ("storage_account", "batch_account", "key_vault", "registry", "postgres_server", "cluster")

# CAF abbreviations (Cloud Adoption Framework) used as prefixes of derived names.
ABBREVIATIONS: dict[str, str] = {
    "storage_account": "st",
    "batch_account": "ba",
    "key_vault": "kv",
    "registry": "cr",
    "postgres_server": "psql",
    "cluster": "aks",
    "cosmos_account": "cosmos",
}


def derive(kind: str, workload: str, environment: str, suffix: str) -> str:
    """`<abbr><workload><env><suffix>`, hyphenated where Azure allows hyphens."""
    abbr = ABBREVIATIONS[kind]
    if kind in {"storage_account", "batch_account", "registry"}:
        return f"{abbr}{workload}{environment}{suffix}"
    return f"{abbr}-{workload}-{environment}-{suffix}"


def check(kind: str, name: str) -> str | None:
    """None when `name` is valid for `kind`, else what would be valid."""
    rule = RULES[kind]
    return None if rule.pattern.match(name) else rule.description
