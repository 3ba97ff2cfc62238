"""TES and TriggerService 6.0.0, built from their pinned source into the stack's registry during `pulumi up`.

CoA 6.0.0 stopped publishing both to MCR; its deployer builds them from the tagged source with ACR Tasks and runs them
by digest (CromwellOnAzure@6.0.0:src/deploy-cromwell-on-azure/Deployer.cs:1177-1178, 1276, 1293-1296). Our registry has
no public network path, so the build runs on the registry's agent pool inside the VNet (components/registry.py). Each
image is a local command on the machine running `pulumi up` (scripts/build-images.sh --only <key> --print-digest):
it checks the source commit and submodules against images.lock.json, runs `az acr build`, and prints the digest of
what it pushed, which the chart then runs. It runs again only when the pinned commit, the registry or the pool
changes; `pulumi preview` does not run it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command

from configuration.image_lock import DIGEST, ImageLock

# Relative to the program directory (the working directory of `pulumi up`).
BUILD_SCRIPT = "scripts/build-images.sh"


def digest_from(stdout: str) -> str:
    """The digest the build printed (its last line); anything else means the build did not push what it claims."""
    lines = stdout.strip().splitlines()
    last = lines[-1].strip() if lines else ""
    if not DIGEST.fullmatch(last):
        raise ValueError(f"{BUILD_SCRIPT} printed {last!r}, not a sha256 digest")
    return last


@dataclass(frozen=True, kw_only=True)
class ImageBuildArgs:
    images: ImageLock
    registry_name: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    agent_pool_name: pulumi.Input[str]
    # The agent pool and the registry's private endpoint: a build pushes through them.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


class ImageBuild(pulumi.ComponentResource):
    """One ACR Tasks build per image the lock marks `source: build` without a recorded digest."""

    digests: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:registry:ImageBuild", name, None, opts)
        self.digests = {}
        self.builds: list[command.local.Command] = []
        # One build at a time: each scales the shared pool to zero when it finishes (--release-pool), which must not
        # happen under another build still running on it.
        previous: list[pulumi.Resource] = []
        for key in args.images.built():
            pin = args.images[key]
            assert pin.build is not None  # built() lists build entries only
            if not re.fullmatch(r"[A-Za-z0-9]+", key):
                raise ValueError(f"image key {key!r} cannot be passed to {BUILD_SCRIPT}")
            build = command.local.Command(
                f"{name}-{key}",
                create=pulumi.Output.concat(
                    BUILD_SCRIPT,
                    " ",
                    args.registry_name,
                    " --agent-pool ",
                    args.agent_pool_name,
                    # The pool is billed while it has instances: back to zero after each build.
                    f" --release-pool --only {key} --print-digest",
                ),
                # A new commit, registry or pool builds again; the script itself is not a trigger.
                triggers=[pin.build.commit, *pin.build.submodules.values(), args.registry_id, args.agent_pool_name],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *previous]),
            )
            previous = [build]
            self.builds.append(build)
            self.digests[key] = build.stdout.apply(digest_from)
        self.register_outputs({"digests": self.digests})
