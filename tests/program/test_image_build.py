"""TES and TriggerService 6.0.0 are built from their pinned source into the stack's registry during `pulumi up`, on an
agent pool inside the VNet, before the release needs them, and run by the digest the build printed."""

from __future__ import annotations

import pytest
from stackquery import one, run_variant, stack_values

from components.image_build import digest_from
from configuration.image_lock import load_lock
from offline.harness import ProgramError, ProgramRun

COMMAND = "command:local:Command"
POOL = "azure-native:containerregistry:AgentPool"


def _builds(run: ProgramRun) -> dict[str, object]:
    return {b.name.rsplit("-", 1)[-1]: b for b in run.of_type(COMMAND)}


def test_each_image_the_lock_builds_is_one_build_of_its_pinned_commit(stack: ProgramRun) -> None:
    lock = load_lock()
    builds = _builds(stack)
    assert sorted(builds) == sorted(lock.built()) == ["tes", "triggerservice"]
    registry = one(stack, "azure-native:containerregistry:Registry")
    pool = one(stack, POOL)
    for key, build in builds.items():
        pin = lock[key]
        assert pin.build is not None
        assert build.inputs["create"] == (
            f"scripts/build-images.sh {registry.outputs['name']} --agent-pool {pool.outputs['name']} "
            f"--release-pool --only {key} --print-digest"
        )
        # Rebuilt only when what is built, or where, changes.
        assert build.inputs["triggers"] == [
            pin.build.commit,
            *pin.build.submodules.values(),
            registry.id,
            pool.outputs["name"],
        ]


def test_the_pool_lives_in_its_own_locked_subnet_that_leaves_through_the_stacks_egress(stack: ProgramRun) -> None:
    pool = one(stack, POOL).inputs
    subnet = one(stack, "azure-native:network:Subnet", "snet-acrTasks")
    assert pool["virtualNetworkSubnetResourceId"] == subnet.id
    assert pool["os"] == "Linux" and pool["tier"] == "S2"
    nsg = by_nsg(stack, subnet)
    inbound = [r for r in nsg["securityRules"] if r["direction"] == "Inbound"]
    assert [(r["access"], r["sourceAddressPrefixes"]) for r in inbound] == [("Deny", ["*"])]
    # Builds pull the .NET images from MCR and packages from NuGet: through the NAT gateway or the hub firewall.
    assert subnet.inputs.get("natGateway") or subnet.inputs.get("routeTable")
    assert subnet.inputs["defaultOutboundAccess"] is False


def by_nsg(run: ProgramRun, subnet: object) -> dict:
    nsg_id = subnet.inputs["networkSecurityGroup"]["id"]  # type: ignore[attr-defined]
    return next(n.inputs for n in run.of_type("azure-native:network:NetworkSecurityGroup") if n.id == nsg_id)


def test_a_build_waits_for_the_pool_and_the_registrys_private_endpoint_and_dns(stack: ProgramRun) -> None:
    """The pool pushes through the registry's private endpoint, resolved in the VNet's privatelink zone."""
    pool = one(stack, POOL)
    endpoint = one(stack, "azure-native:network:PrivateEndpoint", "registry")
    link = next(link for link in stack.of_type("azure-native:privatedns:VirtualNetworkLink") if "registry" in link.name)
    for build in _builds(stack).values():
        deps = set(build.dependencies)  # type: ignore[attr-defined]
        assert {pool.urn, endpoint.urn, link.urn} <= deps


def test_the_release_waits_for_the_builds_and_runs_what_they_printed(stack: ProgramRun) -> None:
    release = one(stack, "kubernetes:helm.sh/v3:Release")
    images = release.inputs["values"]["images"]
    for key, build in _builds(stack).items():
        assert build.urn in release.dependencies  # type: ignore[attr-defined]
        assert images[key]["digest"] == digest_from(build.outputs["stdout"])  # type: ignore[attr-defined]
        assert images[key]["repository"] == f"coa-build/{key}"


@pytest.mark.parametrize("printed", ["", "Successfully built\n", "sha256:abc\n", "sha256:" + "A" * 64])
def test_a_build_that_prints_no_digest_fails_the_deploy(printed: str) -> None:
    with pytest.raises(ValueError, match="not a sha256 digest"):
        digest_from(printed)
    assert digest_from("log line\nsha256:" + "0" * 64 + "\n") == "sha256:" + "0" * 64


def test_without_the_build_the_images_come_through_their_cache_rule(tmp_path_factory: pytest.TempPathFactory) -> None:
    """For an operator who verified that MCR serves the tag: no pool, no build, the MCR cache rules come back."""
    network = stack_values("dev")["network"]
    network["subnets"] = {k: v for k, v in network["subnets"].items() if k != "acrTasks"}
    run = run_variant(
        tmp_path_factory.mktemp("nobuild"),
        "dev",
        {"coa-lockdown:imageBuild": {"enabled": False}, "coa-lockdown:network": network},
    )
    assert not run.of_type(COMMAND) and not run.of_type(POOL)
    assert not [s for s in run.of_type("azure-native:network:Subnet") if "acrTasks" in s.name]
    sources = {r.inputs["sourceRepository"] for r in run.of_type("azure-native:containerregistry:CacheRule")}
    assert {"mcr.microsoft.com/cromwellonazure/tes", "mcr.microsoft.com/cromwellonazure/triggerservice"} <= sources
    images = one(run, "kubernetes:helm.sh/v3:Release").inputs["values"]["images"]
    assert images["tes"]["repository"] == "cromwellonazure/tes"


def test_a_region_without_agent_pools_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ProgramError, match=r"imageBuild.enabled: ACR Tasks agent pools.*not offered in uksouth"):
        run_variant(
            tmp_path_factory.mktemp("uk"),
            "dev",
            {"coa-lockdown:location": "uksouth", "azure-native:location": "uksouth"},
        )


def test_the_builds_run_while_the_cluster_is_created(stack: ProgramRun) -> None:
    """Builds wait for the registry side only, not for AKS: they are off the first deploy's critical path."""
    cluster = one(stack, "azure-native:containerservice:ManagedCluster")
    by_urn = stack.by_urn()

    def ancestors_of(urn: str, seen: set[str]) -> set[str]:
        for dependency in by_urn[urn].dependencies if urn in by_urn else ():
            if dependency not in seen:
                seen.add(dependency)
                ancestors_of(dependency, seen)
        return seen

    for build in _builds(stack).values():
        assert cluster.urn not in ancestors_of(build.urn, set())  # type: ignore[attr-defined]


def test_builds_run_one_after_the_other_on_the_shared_pool(stack: ProgramRun) -> None:
    """Each build scales the pool to zero when it ends: the next one must not have started on it yet."""
    builds = _builds(stack)
    assert builds["tes"].urn in builds["triggerservice"].dependencies  # type: ignore[attr-defined]
    assert builds["triggerservice"].urn not in builds["tes"].dependencies  # type: ignore[attr-defined]
