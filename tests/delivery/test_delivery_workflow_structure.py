"""Structure that matters for security review of the GitHub Actions workflows.

OIDC without stored credentials, the policy pack on every preview and update, prod behind an
environment, least-privilege permissions, actions pinned to commits, nothing secret printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

STACKS = ["dev", "prod"]
PULUMI_ACTION = "pulumi/actions"
AZURE_LOGIN = "azure/login"
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$")
# What each job may write; anything else it asks for must be read-only.
ALLOWED_WRITES = {
    ("pull-request.yml", "offline"): {"security-events"},
    ("pull-request.yml", "preview"): {"id-token", "pull-requests"},
    ("deploy.yml", "dev"): {"id-token"},
    ("deploy.yml", "prod"): {"id-token"},
    ("build-images.yml", "build"): {"id-token"},
    ("pull-request.yml", "image-digests"): set(),
    ("drift.yml", "drift"): {"id-token"},
    ("retirement.yml", "calendar"): set(),
}


def steps_of(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def action_of(step: dict[str, Any]) -> str:
    uses = step.get("uses", "")
    return uses.split("@", 1)[0] if uses else ""


def pulumi_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, step in steps_of(workflow) if action_of(step) == PULUMI_ACTION]


def test_the_workflows_exist_with_their_triggers(
    workflows: dict[str, dict[str, Any]],
) -> None:
    assert set(workflows) == {"pull-request.yml", "deploy.yml", "build-images.yml", "drift.yml", "retirement.yml"}
    # Support dates move without commits: the calendar is checked every week (and on demand), offline.
    assert set(workflows["retirement.yml"]["on"]) == {"schedule", "workflow_dispatch"}
    assert "make retirement" in "\n".join(
        step.get("run", "") for step in workflows["retirement.yml"]["jobs"]["calendar"]["steps"]
    )
    # Drift is checked every night (and on demand), from main's code.
    assert set(workflows["drift.yml"]["on"]) == {"schedule", "workflow_dispatch"}
    assert set(workflows["pull-request.yml"]["on"]) == {"pull_request"}
    assert workflows["deploy.yml"]["on"] == {"push": {"branches": ["main"]}}
    # Builds run only when a maintainer asks; their result comes back as an artifact to review, never a push.
    assert set(workflows["build-images.yml"]["on"]) == {"workflow_dispatch"}


def test_jobs_that_reach_private_endpoints_run_inside_the_network(workflows: dict[str, dict[str, Any]]) -> None:
    """The Helm release talks to the private API server, the smoke test to the cluster, the image build to the
    private registry: none of that is reachable from a GitHub-hosted runner."""
    private = "${{ vars.PRIVATE_RUNNER_LABEL || 'self-hosted' }}"
    for name, job_id in (
        ("deploy.yml", "dev"),
        ("deploy.yml", "prod"),
        ("build-images.yml", "build"),
        ("drift.yml", "drift"),
    ):
        assert workflows[name]["jobs"][job_id]["runs-on"] == private, f"{name}:{job_id}"


def test_the_image_build_writes_nothing_back_and_pins_what_it_built(workflows: dict[str, dict[str, Any]]) -> None:
    job = workflows["build-images.yml"]["jobs"]["build"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/build-images.sh" in runs and "git push" not in runs
    uploads = [step for step in job["steps"] if action_of(step) == "actions/upload-artifact"]
    assert uploads and uploads[0]["with"]["path"] == "images.lock.json"


def test_pull_requests_check_every_recorded_digest_upstream(workflows: dict[str, dict[str, Any]]) -> None:
    job = workflows["pull-request.yml"]["jobs"]["image-digests"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/pin_images.py --check" in runs
    assert re.search(r"go install github\.com/google/go-containerregistry/cmd/crane@v\d+\.\d+\.\d+", runs)


def test_permissions_default_to_none_and_each_job_writes_only_what_it_needs(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, workflow in workflows.items():
        assert workflow.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"
        for job_id, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{name}:{job_id} must declare its permissions"
            writes = {scope for scope, level in permissions.items() if level == "write"}
            assert writes == ALLOWED_WRITES[(name, job_id)], f"{name}:{job_id} writes {sorted(writes)}"
            assert set(permissions.values()) <= {"read", "write"}, f"{name}:{job_id}: {permissions}"


def test_azure_login_uses_oidc_and_no_stored_credential(
    workflows: dict[str, dict[str, Any]], workflow_paths: list[Path]
) -> None:
    logins = 0
    for name, workflow in workflows.items():
        for job_id, step in steps_of(workflow):
            if action_of(step) != AZURE_LOGIN:
                continue
            logins += 1
            job = workflow["jobs"][job_id]
            assert job["permissions"].get("id-token") == "write", f"{name}:{job_id} lacks id-token: write"
            inputs = step.get("with", {})
            assert set(inputs) == {"client-id", "tenant-id", "subscription-id"}, f"{name}:{job_id}: {inputs}"
            assert all(value.startswith("${{ vars.") for value in inputs.values()), inputs
            # The azure-native provider signs in with the same identity through OIDC.
            env = job.get("env", {})
            assert env.get("ARM_USE_OIDC") == "true", f"{name}:{job_id}"
            assert env.get("ARM_CLIENT_ID") == inputs["client-id"], f"{name}:{job_id}"
    assert logins == 5, "expected azure/login in the preview, dev, prod, image build and drift jobs"
    for path in workflow_paths:
        text = path.read_text(encoding="utf-8")
        for forbidden in (
            "client-secret",
            "creds:",
            "secrets.",
            "ARM_CLIENT_SECRET",
            "AZURE_STORAGE_KEY",
        ):
            assert forbidden not in text, f"{path.name} mentions {forbidden!r}"


def test_preview_identity_differs_from_deploy_identity(
    workflows: dict[str, dict[str, Any]],
) -> None:
    preview = workflows["pull-request.yml"]["jobs"]["preview"]["env"]["ARM_CLIENT_ID"]
    assert preview == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    for job in ("dev", "prod"):
        assert workflows["deploy.yml"]["jobs"][job]["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"


def test_every_preview_and_up_runs_the_policy_pack_against_self_managed_state(
    workflows: dict[str, dict[str, Any]], pinned_pulumi_version: str
) -> None:
    commands: list[str] = []
    for name, workflow in workflows.items():
        if not pulumi_steps(workflow):
            continue
        assert workflow["env"]["PULUMI_VERSION"] == pinned_pulumi_version, name
        for job_id, step in pulumi_steps(workflow):
            inputs = step["with"]
            commands.append(inputs["command"])
            where = f"{name}:{job_id}"
            assert inputs["command"] in {"preview", "up"}, where
            assert inputs.get("policyPacks") == "policy", f"{where}: policyPacks must be 'policy'"
            assert inputs.get("cloud-url") == "${{ vars.PULUMI_BACKEND_URL }}", where
            assert inputs.get("secrets-provider") == "${{ vars.PULUMI_SECRETS_PROVIDER }}", where
            assert inputs.get("pulumi-version") == "${{ env.PULUMI_VERSION }}", where
            # A mandatory violation must fail the job, not be swallowed.
            assert "continue-on-error" not in step and "continue-on-error" not in inputs, where
            assert "continue-on-error" not in workflow["jobs"][job_id], where
    assert sorted(commands) == ["preview", "preview", "up", "up"]


def test_dependencies_are_installed_before_pulumi_runs(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, workflow in workflows.items():
        for job_id, job in workflow["jobs"].items():
            steps = job["steps"]
            uses_pulumi = [i for i, step in enumerate(steps) if action_of(step) == PULUMI_ACTION]
            if not uses_pulumi:
                continue
            installs = [i for i, step in enumerate(steps) if "scripts/install-python-deps.sh" in step.get("run", "")]
            logins = [i for i, step in enumerate(steps) if action_of(step) == AZURE_LOGIN]
            assert installs and installs[0] < uses_pulumi[0], f"{name}:{job_id} installs no dependencies first"
            assert logins and logins[0] < uses_pulumi[0], f"{name}:{job_id} does not log in first"


def test_pull_request_previews_every_stack_and_comments(
    workflows: dict[str, dict[str, Any]],
) -> None:
    job = workflows["pull-request.yml"]["jobs"]["preview"]
    assert job["needs"] == "offline"
    assert job["strategy"]["matrix"]["stack"] == STACKS
    assert job["strategy"]["fail-fast"] is False
    assert "head.repo.full_name == github.repository" in job["if"], "fork pull requests get no OIDC token"
    assert "environment" not in job, "previews must not borrow the prod environment's identity"
    ((_, step),) = pulumi_steps({"jobs": {"preview": job}})
    assert step["with"]["command"] == "preview"
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    assert step["with"]["comment-on-pr"] is True


def test_offline_job_tests_previews_every_stack_and_publishes_policy_results(
    workflows: dict[str, dict[str, Any]],
) -> None:
    job = workflows["pull-request.yml"]["jobs"]["offline"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "make test" in runs
    assert "make preview STACK=" in runs
    assert "for stack in " + " ".join(STACKS) + "; do" in runs
    sarif = [step for step in job["steps"] if action_of(step) == "github/codeql-action/upload-sarif"]
    policy = [step["with"]["sarif_file"] for step in sarif if step["with"]["sarif_file"].endswith("/policy.sarif")]
    assert policy == [f"out/{stack}/policy.sarif" for stack in STACKS]
    categories = [step["with"]["category"] for step in sarif]
    assert len(set(categories)) == len(sarif), "each stack and tool needs its own code scanning category"
    # Results must reach code scanning even when a mandatory violation failed the preview step.
    assert all("!cancelled()" in step["if"] for step in sarif)
    artifacts = [step for step in job["steps"] if action_of(step) == "actions/upload-artifact"]
    assert len(artifacts) == 1 and artifacts[0]["with"]["path"] == "out/"


def test_offline_job_writes_the_evidence_packs_and_checks_retirement_and_capacity_after_the_scan(
    workflows: dict[str, dict[str, Any]],
) -> None:
    steps = workflows["pull-request.yml"]["jobs"]["offline"]["steps"]

    def position(text: str) -> int:
        (found,) = [i for i, step in enumerate(steps) if text in step.get("run", "")]
        return found

    artifact = next(i for i, step in enumerate(steps) if action_of(step) == "actions/upload-artifact")
    assert position("make scan") < position("python -m offline.evidence") < artifact, "evidence reads the scan"
    assert position("make retirement") < artifact and position("make --no-print-directory capacity") < artifact
    for text in ("python -m offline.evidence", "make retirement", "capacity STACK"):
        step = steps[position(text)]
        assert "!cancelled()" in step["if"] and "continue-on-error" not in step, text


def test_offline_job_scans_every_stack_with_checkov_and_publishes_its_sarif(
    workflows: dict[str, dict[str, Any]],
) -> None:
    steps = workflows["pull-request.yml"]["jobs"]["offline"]["steps"]
    previews = [i for i, step in enumerate(steps) if "make preview STACK=" in step.get("run", "")]
    scans = [i for i, step in enumerate(steps) if "make scan" in step.get("run", "")]
    artifacts = [i for i, step in enumerate(steps) if action_of(step) == "actions/upload-artifact"]
    assert len(scans) == 1 and previews[0] < scans[0] < artifacts[0], "scan after the previews, kept in out/"
    scan = steps[scans[0]]
    assert "!cancelled()" in scan["if"] and "continue-on-error" not in scan, "a red scan must fail the job"
    uploads = [
        step
        for step in steps[scans[0] :]
        if action_of(step) == "github/codeql-action/upload-sarif" and "/scan/" in step["with"]["sarif_file"]
    ]
    expected = [
        f"out/scan/{stack}/checkov-{tool}/results_sarif.sarif" for stack in STACKS for tool in ("arm", "kubernetes")
    ]
    assert [step["with"]["sarif_file"] for step in uploads] == expected
    assert all("!cancelled()" in step["if"] and step["with"]["category"].startswith("checkov-") for step in uploads)


def test_offline_job_fails_when_a_protected_resource_would_be_replaced_against_the_base(
    workflows: dict[str, dict[str, Any]],
) -> None:
    steps = workflows["pull-request.yml"]["jobs"]["offline"]["steps"]
    previews = [i for i, step in enumerate(steps) if "make preview STACK=" in step.get("run", "")]
    bases = [i for i, step in enumerate(steps) if action_of(step) == "actions/checkout" and "ref" in step["with"]]
    diffs = [i for i, step in enumerate(steps) if "make diff STACK=" in step.get("run", "")]
    artifacts = [i for i, step in enumerate(steps) if action_of(step) == "actions/upload-artifact"]
    assert len(bases) == 1 and len(diffs) == 1, "one base checkout and one diff step"
    assert previews[0] < bases[0] < diffs[0] < artifacts[0], "base after the previews; its outputs kept in out/"
    base = steps[bases[0]]["with"]
    assert base["ref"] == "${{ github.event.pull_request.base.sha }}"
    diff = steps[diffs[0]]
    run = diff["run"]
    assert f"BASE_SRC={base['path']}" in run
    assert "for stack in " + " ".join(STACKS) + "; do" in run
    assert "GITHUB_STEP_SUMMARY" in run
    # A protected replacement must fail the job: no swallowed exit code.
    assert "|| status=1" in run and 'exit "${status}"' in run
    assert "continue-on-error" not in diff
    # Listed even when a policy violation failed the preview step.
    assert "!cancelled()" in diff["if"] and "!cancelled()" in steps[bases[0]]["if"]


def test_deploy_refreshes_then_updates_dev_then_prod_behind_an_environment(
    workflows: dict[str, dict[str, Any]],
) -> None:
    jobs = workflows["deploy.yml"]["jobs"]
    assert set(jobs) == {"dev", "prod"}
    assert "needs" not in jobs["dev"] and "environment" not in jobs["dev"]
    assert jobs["prod"]["needs"] == "dev"
    environment = jobs["prod"]["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "prod"
    for stack, job in jobs.items():
        ((_, step),) = pulumi_steps({"jobs": {stack: job}})
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"] == stack
        assert step["with"]["refresh"] is True, f"{stack}: refresh before up to catch drift"


def test_concurrency_cancels_stale_previews_but_never_a_running_update(
    workflows: dict[str, dict[str, Any]],
) -> None:
    pull_request = workflows["pull-request.yml"]["concurrency"]
    assert "github.event.pull_request.number" in pull_request["group"]
    assert pull_request["cancel-in-progress"] is True
    assert workflows["deploy.yml"]["concurrency"]["cancel-in-progress"] is False


def test_every_action_is_pinned_to_a_commit_with_its_version(
    workflow_paths: list[Path],
) -> None:
    pins: dict[str, set[str]] = {}
    for path in workflow_paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not re.match(r"^\s*(-\s+)?uses:", line):
                continue
            match = SHA_PIN.match(line)
            assert match, (
                f"{path.name}:{number}: not pinned to a 40-hex commit with a '# vX.Y.Z' comment: {line.strip()}"
            )
            pins.setdefault(match.group(1), set()).add(match.group(2))
    assert pins, "no actions found"
    for action, shas in pins.items():
        assert len(shas) == 1, f"{action} is pinned to different commits: {sorted(shas)}"


def test_checkout_does_not_keep_the_token(workflows: dict[str, dict[str, Any]]) -> None:
    for name, workflow in workflows.items():
        for job_id, step in steps_of(workflow):
            if action_of(step) == "actions/checkout":
                assert step["with"]["persist-credentials"] is False, f"{name}:{job_id}"


SECRET_WORD = re.compile(r"\$\{?\w*(TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY)\w*|\$\{\{\s*(secrets\.|github\.token)")


def test_no_run_step_prints_or_traces_a_secret(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, workflow in workflows.items():
        for job_id, step in steps_of(workflow):
            script = step.get("run", "")
            assert not re.search(r"set\s+-\w*x", script), f"{name}:{job_id}: shell tracing would print values"
            for line in script.splitlines():
                if re.search(r"\b(echo|printf|cat|env|printenv)\b", line):
                    assert not SECRET_WORD.search(line), f"{name}:{job_id} prints a secret-looking value: {line}"


def test_drift_is_a_read_only_refreshed_preview_that_fails_on_any_difference(
    workflows: dict[str, dict[str, Any]],
) -> None:
    job = workflows["drift.yml"]["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    # The read-only identity, through its own federated subject (environment:drift), never the deploy identity.
    assert job["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}" and job["environment"] == "drift"
    ((_, step),) = pulumi_steps(workflows["drift.yml"])
    inputs = step["with"]
    assert inputs["command"] == "preview" and inputs["refresh"] is True and inputs["expect-no-changes"] is True
    assert inputs["always-include-summary"] is True
