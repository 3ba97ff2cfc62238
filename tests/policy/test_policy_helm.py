"""Helm v3 Releases of local charts are rendered (helm binary, else helm-python-sdk) and their pods checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.coa_policies import all_policies
from policy.coa_policies._core import Rule

RULES = {p.name: p for p in all_policies() if isinstance(p, Rule)}
RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-app, namespace: {{ .Release.Namespace }}}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: {{ .Values.image | quote }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            privileged: {{ .Values.privileged }}
            capabilities: {drop: [ALL]}
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 200m, memory: 128Mi}}
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata: {name: {{ .Values.ns }}, labels: {pod-security.kubernetes.io/enforce: {{ .Values.level }}}}
"""


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("charts") / "demo"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (root / "values.yaml").write_text(
        "image: coacr.azurecr.io/app:1.0\nprivileged: false\nns: work\nlevel: restricted\n"
    )
    (root / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (root / "templates" / "namespace.yaml").write_text(NAMESPACE)
    (root / "templates" / "NOTES.txt").write_text("installed {{ .Release.Name }}\n")
    return root


def release(chart: Path | str, **values: object) -> dict[str, object]:
    return {"chart": str(chart), "name": "demo", "namespace": "work", "values": values}


def violations(props: dict[str, object]) -> dict[str, list[str]]:
    found = {name: rule.evaluate(props, type=RELEASE) for name, rule in RULES.items() if RELEASE in rule.types}
    return {k: v for k, v in found.items() if v}


def test_compliant_release_renders_clean(chart: Path) -> None:
    assert violations(release(chart)) == {}


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"image": "coacr.azurecr.io/app:latest"}, "k8s-image-pinned"),
        ({"image": "docker.io/library/app:1.0"}, "k8s-image-from-allowed-registry"),
        ({"privileged": True}, "k8s-no-privileged-or-host-access"),
        ({"level": "privileged"}, "k8s-namespace-pod-security-restricted"),
    ],
)
def test_values_that_break_a_rule(chart: Path, values: dict[str, object], rule: str) -> None:
    found = violations(release(chart, **values))
    assert list(found) == [rule]
    assert "Deployment/demo-app" in found[rule][0] or "namespace 'work'" in found[rule][0]


def test_computed_values_do_not_fail_image_rules(chart: Path) -> None:
    assert violations(release(chart, image=None)) == {}


def test_render_failures_are_reported(chart: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "templates").mkdir(parents=True)
    (broken / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (broken / "templates" / "bad.yaml").write_text("{{ .Values.missing.field }}\n")
    assert list(violations(release(broken))) == ["helm-release-renders"]
    assert list(violations(release(tmp_path / "nowhere"))) == ["helm-release-renders"]


def test_repository_charts_are_not_rendered() -> None:
    props = {"chart": "ingress-nginx", "repositoryOpts": {"repo": "https://kubernetes.github.io/ingress-nginx"}}
    assert violations(props) == {}
