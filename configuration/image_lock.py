"""The image lock: every image the chart runs, pinned by the digest of what was reviewed (images.lock.json).

A tag in a public registry can be re-pushed; a digest cannot change what it names. Each entry records where the image
comes from, the tag that was resolved and the digest that pins it, and how the digest was obtained (`resolved`):
- `source: cache`: pulled through the registry's artifact-cache rule from `upstream` (scripts/pin_images.py resolves
  and checks the digest upstream);
- `source: build`: built by scripts/build-images.sh from the pinned source commit, the way CoA 6.0.0's deployer builds
  TES and TriggerService into its own registry (CromwellOnAzure@6.0.0:src/deploy-cromwell-on-azure/Deployer.cs:1226-1296),
  and pushed to `build.repository`.
A null digest is a pin still pending; the chart then falls back to the tag, which production refuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from configuration.reader import ConfigError, suggest

# The repository's lock; a running program reads the one beside itself (configuration.stack.load_settings).
LOCK_FILE = Path(__file__).resolve().parents[1] / "images.lock.json"

# The chart's image keys (charts/cromwell-on-azure values `images.*`, plus the smoke test's task image).
CHART_IMAGES = ("cromwell", "tes", "triggerservice", "dbClient", "smokeTest", "smokeTestTask")
# Which lock entry each generation runs under each chart key (configuration/settings.py Generation). The reduced-
# assurance generation runs CoA 3.2.0's TES and TriggerService from MCR, under the tags its deployer used
# (CromwellOnAzure@3.2.0:src/deploy-cromwell-on-azure/scripts/env-02-internal-images.txt:1-2), and the blobxfer image
# its Batch nodes pull (BatchScheduler.cs:79), through the registry's cache like every other image.
GENERATION_IMAGES: dict[str, dict[str, str]] = {
    "tes6": {key: key for key in CHART_IMAGES},
    "tes32": {
        **{key: key for key in CHART_IMAGES},
        "tes": "tes32",
        "triggerservice": "triggerservice32",
        "blobxfer": "blobxfer",
    },
}
# The runtime each generation's TES and TriggerService images run on, as their Dockerfiles' final stage says
# (retirement.yaml dates its support): TES 6.0.0 on ASP.NET Core 8.0 (microsoft/ga4gh-tes@6.0.0:src/Dockerfile-Tes:4),
# TriggerService 6.0.0 on .NET 8.0 (microsoft/CromwellOnAzure@6.0.0:src/Dockerfile-TriggerService:4); both 3.2.0 images
# on ASP.NET Core 6.0 (microsoft/CromwellOnAzure@3.2.0:src/Dockerfile-Tes:18, src/Dockerfile-TriggerService:19).
GENERATION_RUNTIME: dict[str, str] = {"tes6": ".NET 8", "tes32": ".NET 6"}
# Every entry images.lock.json holds.
LOCK_KEYS = tuple(dict.fromkeys(lock for images in GENERATION_IMAGES.values() for lock in images.values()))

ImageSource = Literal["cache", "build"]
SOURCES: tuple[ImageSource, ...] = ("cache", "build")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}")
# OCI distribution spec: tag grammar and repository path components.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
UPSTREAM = re.compile(r"[a-z0-9.-]+\.[a-z]{2,}/" + REPOSITORY.pattern)

ENTRY_KEYS = {"source", "upstream", "repository", "tag", "digest", "resolved", "build"}
BUILD_KEYS = {"repository", "source", "ref", "commit", "submodules", "context", "dockerfile"}


@dataclass(frozen=True, kw_only=True)
class BuildSource:
    """Where scripts/build-images.sh builds an image from: a git commit (tags can move too) and its submodules."""

    repository: str
    source: str
    ref: str
    commit: str
    submodules: Mapping[str, str]
    context: str
    dockerfile: str


@dataclass(frozen=True, kw_only=True)
class ImagePin:
    key: str
    source: ImageSource
    upstream: str
    # Repository in our registry the cache rule fills (`source: cache`).
    cache_repository: str
    tag: str
    digest: str | None
    resolved: str | None
    build: BuildSource | None

    @property
    def repository(self) -> str:
        """Repository inside our registry that the chart pulls from."""
        return self.build.repository if self.source == "build" and self.build else self.cache_repository

    def chart_value(self) -> dict[str, str]:
        return {"repository": self.repository, "tag": self.tag, "digest": self.digest or ""}


@dataclass(frozen=True, kw_only=True)
class ImageLock:
    """Pins by chart key. The parsed file holds every entry (LOCK_KEYS); a stack runs one generation's view of it
    (`for_generation`), whose keys are the chart's."""

    pins: Mapping[str, ImagePin]
    # The keys that count, in chart order (CHART_IMAGES, or a generation's chart keys).
    keys: tuple[str, ...] = CHART_IMAGES

    def for_generation(self, generation: str) -> ImageLock:
        """The images one generation runs, under the chart's keys (a pin keeps its lock key for messages)."""
        chart = GENERATION_IMAGES[generation]
        return ImageLock(pins={key: self.pins[lock] for key, lock in chart.items()}, keys=tuple(chart))

    def unpinned(self) -> list[str]:
        """Keys whose digest is still pending, in chart order. A build entry without a digest is not pending: the
        stack builds it during `pulumi up` and runs what it built by digest (components/image_build.py)."""
        return [key for key in self.keys if not self.pins[key].digest and self.pins[key].source != "build"]

    def built(self) -> list[str]:
        """Keys the stack builds from source during `pulumi up`, in chart order: build entries without a recorded
        digest. One with a digest (built once by scripts/build-images.sh, imported by digest into each registry) runs
        as recorded."""
        return [key for key in self.keys if self.pins[key].source == "build" and not self.pins[key].digest]

    def from_cache_instead_of_build(self) -> ImageLock:
        """The lock with every build entry the stack would build pulled through its cache rule (upstream) instead:
        for an operator who verified that the upstream serves the tag. Build entries with a recorded digest (built
        once, imported into each registry) still run as recorded."""
        return ImageLock(
            pins={
                key: pin
                if key not in self.built()
                else ImagePin(
                    key=pin.key,
                    source="cache",
                    upstream=pin.upstream,
                    cache_repository=pin.cache_repository,
                    tag=pin.tag,
                    digest=None,
                    resolved=None,
                    build=pin.build,
                )
                for key, pin in self.pins.items()
            },
            keys=self.keys,
        )

    def __getitem__(self, key: str) -> ImagePin:
        return self.pins[key]


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"images.lock.json: {where}: {message}")


def _string(entry: Mapping[str, Any], where: str, key: str, pattern: re.Pattern[str] | None = None) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
    if pattern and not pattern.fullmatch(value):
        raise _fail(f"{where}.{key}", f"{value!r} does not match {pattern.pattern}")
    return value


def _unknown(entry: Mapping[str, Any], where: str, known: set[str]) -> None:
    for key in sorted(set(entry) - known):
        raise _fail(f"{where}.{key}", f"unknown key{suggest(key, known)}")


def _build(raw: Any, where: str) -> BuildSource:
    if not isinstance(raw, Mapping):
        raise _fail(where, f"must be an object, got {raw!r}")
    _unknown(raw, where, BUILD_KEYS)
    submodules = raw.get("submodules", {})
    if not isinstance(submodules, Mapping):
        raise _fail(f"{where}.submodules", f"must map submodule paths to commits, got {submodules!r}")
    for path, commit in submodules.items():
        if not isinstance(commit, str) or not COMMIT.fullmatch(commit):
            raise _fail(f"{where}.submodules.{path}", f"must be a 40-hex commit, got {commit!r}")
    return BuildSource(
        repository=_string(raw, where, "repository", REPOSITORY),
        source=_string(raw, where, "source", re.compile(r"https://[^\s#]+")),
        ref=_string(raw, where, "ref"),
        commit=_string(raw, where, "commit", COMMIT),
        submodules=dict(submodules),
        context=_string(raw, where, "context"),
        dockerfile=_string(raw, where, "dockerfile"),
    )


def _pin(key: str, raw: Any) -> ImagePin:
    where = f"images.{key}"
    if not isinstance(raw, Mapping):
        raise _fail(where, f"must be an object, got {raw!r}")
    _unknown(raw, where, ENTRY_KEYS)
    source = raw.get("source")
    if source not in SOURCES:
        raise _fail(f"{where}.source", f"{source!r} is not one of {', '.join(SOURCES)}")
    tag = _string(raw, where, "tag", TAG)
    if tag.lower() == "latest":
        raise _fail(f"{where}.tag", "'latest' names whatever was pushed last; pin a version")
    digest = raw.get("digest")
    if digest is not None and (not isinstance(digest, str) or not DIGEST.fullmatch(digest)):
        raise _fail(f"{where}.digest", f"must be null (pending) or sha256:<64 lowercase hex>, got {digest!r}")
    resolved = raw.get("resolved")
    if digest and not (isinstance(resolved, str) and resolved.strip()):
        raise _fail(f"{where}.resolved", "a digest needs its provenance: how and when it was resolved")
    build = _build(raw["build"], f"{where}.build") if raw.get("build") is not None else None
    if source == "build" and build is None:
        raise _fail(f"{where}.build", "source: build needs the build block (source commit, context, Dockerfile)")
    return ImagePin(
        key=key,
        source=source,
        upstream=_string(raw, where, "upstream", UPSTREAM),
        cache_repository=_string(raw, where, "repository", REPOSITORY),
        tag=tag,
        digest=digest,
        resolved=resolved if isinstance(resolved, str) else None,
        build=build,
    )


def parse_lock(raw: Any) -> ImageLock:
    """Validate the lock document; every problem is reported at once, each naming its entry and key."""
    images = raw.get("images") if isinstance(raw, Mapping) else None
    if not isinstance(images, Mapping):
        raise _fail("images", "the lock must be an object with an `images` object")
    errors: list[str] = []
    pins: dict[str, ImagePin] = {}
    for key in LOCK_KEYS:
        if key not in images:
            errors.append(f"images.lock.json: images.{key}: missing; the chart runs it")
    for key, entry in images.items():
        if key not in LOCK_KEYS:
            errors.append(f"images.lock.json: images.{key}: not an image the chart runs{suggest(key, LOCK_KEYS)}")
            continue
        try:
            pins[key] = _pin(key, entry)
        except ConfigError as error:
            errors += error.errors
    if errors:
        raise ConfigError(*errors)
    return ImageLock(pins=pins)


def load_lock(path: Path = LOCK_FILE) -> ImageLock:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: not found at {path}; it pins every image the chart runs") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path.name}: not valid JSON ({error})") from None
    return parse_lock(raw)
