"""What the stack exports for operators, and that secrets among them stay secret."""

from __future__ import annotations

from offline.harness import SECRET_MASK, ProgramRun

OPERATOR_OUTPUTS = {
    "resourceGroupName",
    "aksClusterName",
    "storageAccountName",
    "keyVaultUri",
    "tesUrl",
    "cromwellUrl",
}


def test_operator_outputs_are_exported(stack: ProgramRun) -> None:
    assert set(stack.outputs) >= OPERATOR_OUTPUTS
    assert stack.outputs["cromwellUrl"] == "http://cromwell.coa.svc.cluster.local:8000"


def test_kubeconfig_is_exported_only_as_a_secret(stack: ProgramRun) -> None:
    assert stack.outputs["kubeconfig"] == SECRET_MASK


def test_no_generated_password_is_exported(stack: ProgramRun) -> None:
    passwords = [r.outputs["result"] for r in stack.of_type("random:index/randomPassword:RandomPassword")]
    assert passwords, "the stack generates database passwords"
    exported = repr(stack.outputs)
    for password in passwords:
        assert password not in exported
