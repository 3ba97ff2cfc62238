"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine> .` in this directory)."""

import importlib
import shutil
import threading

from coa_policies import all_policies
from pulumi_policy import EnforcementLevel, Policy, PolicyPack


def _preload_helm_library() -> None:
    """Without a helm binary, the first Helm release the pack analyses imports helm-python-sdk (Helm's Go SDK, a
    shared library and the Go runtime): over a tenth of a second. Import it while the engine still runs the
    program, on a thread of its own so that the pack serves (prints its port) at once; a release analysed earlier
    waits for this import on the import lock instead of starting its own."""
    try:
        importlib.import_module("helm_python")
    except Exception:  # a missing or broken library is the rule's to report, when a release needs it
        pass


if shutil.which("helm") is None:
    threading.Thread(target=_preload_helm_library, name="preload-helm", daemon=True).start()

PolicyPack(
    name="coa-hipaa",
    description="HIPAA (45 CFR 164.312) technical safeguards for Azure and Kubernetes resources.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list[Policy](all_policies()),
)
