"""Where a component's resources go: the stack's resource group, region and tags, as one value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Given to every component instead of three arguments threaded by hand; a component passes it on unchanged (or
    with another group, for a resource Azure keeps elsewhere, such as a flow log in the network watcher's group)."""

    resource_group_name: pulumi.Input[str]
    location: str
    tags: Mapping[str, str] = field(default_factory=dict)
