"""resources.json is reproducible: the same program writes the same bytes, whatever order the engine saw things in."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from offline import cli
from offline.harness import run_program
from offline.records import ResourceRecord
from offline.report import resources_json

REPO = Path(__file__).resolve().parents[2]


class QuietPack:
    """A stand-in pack with no rules: only the written resources.json matters here."""

    def __init__(self, pack_dir: Path, config: Any) -> None:
        pass

    def __enter__(self) -> QuietPack:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def info(self) -> tuple[str, list[Any]]:
        return "quiet", []

    def analyze(self, resources: list[ResourceRecord]) -> list[Any]:
        return []


def _reversed_mapping(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_mapping(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_mapping(v) for v in value]
    return value


def test_two_previews_of_prod_write_identical_resources_json(tmp_path: Path) -> None:
    written = []
    registration_orders = set()
    for attempt in range(3):
        runs: list[Any] = []

        def runner(program: Path, stack: str, runs: list[Any] = runs) -> Any:
            runs.append(run_program(program, stack))
            return runs[-1]

        out = tmp_path / f"out{attempt}"
        options = cli.PreviewOptions(stack="prod", program=REPO, out=out, format="json", policy_pack=tmp_path)
        assert cli.preview(options, stdout=io.StringIO(), runner=runner, analyzer_factory=QuietPack) == 0
        written.append((out / "resources.json").read_bytes())
        registration_orders.add(tuple(r.urn for r in runs[0].resources))
    assert written[1] == written[0] and written[2] == written[0]
    document = json.loads(written[0])
    urns = [r["urn"] for r in document["resources"]]
    assert urns == sorted(urns) and len(urns) == len(set(urns)) > 100
    for record in document["resources"]:
        assert record["dependencies"] == sorted(record["dependencies"])
        assert list(record["propertyDependencies"]) == sorted(record["propertyDependencies"])
        assert all(v == sorted(v) for v in record["propertyDependencies"].values())


def test_the_writer_ignores_record_dependency_and_key_order(sample_stack: list[ResourceRecord]) -> None:
    shuffled = list(sample_stack)
    random.Random(7).shuffle(shuffled)
    shuffled = [
        replace(
            r,
            dependencies=tuple(reversed(r.dependencies)),
            property_dependencies={
                k: tuple(reversed(r.property_dependencies[k])) for k in reversed(list(r.property_dependencies))
            },
            aliases=tuple(reversed(r.aliases)),
            inputs=_reversed_mapping(r.inputs),
        )
        for r in shuffled
    ]
    assert shuffled != sample_stack
    assert resources_json("demo", "dev", shuffled) == resources_json("demo", "dev", sample_stack)
    # Lists inside inputs are the program's own order and stay as written.
    subnet = next(r for r in sample_stack if r.name == "main-snet-pe")
    reordered = replace(subnet, inputs={"addressPrefixes": ["10.0.2.0/24", "10.0.1.0/24"]})
    document = json.loads(resources_json("demo", "dev", [reordered]))
    assert document["resources"][0]["inputs"]["addressPrefixes"] == ["10.0.2.0/24", "10.0.1.0/24"]
