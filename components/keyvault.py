"""Key Vault for the stack's secrets: RBAC only, purge-protected, reachable only through its private endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import keyvault

from components.monitoring import diagnostics
from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.protection import Protection

# Azure's maximum soft-delete retention; with purge protection a deleted vault cannot be purged before it ends.
SOFT_DELETE_DAYS = 90


@dataclass(frozen=True, kw_only=True)
class KeyVaultArgs:
    placement: Placement
    tenant_id: pulumi.Input[str]
    vault_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    protection: Protection = field(default_factory=Protection)
    # Customer-managed keys: the services that wrap their data keys here reach the vault as trusted services, which
    # bypass its firewall even with public access disabled (components/encryption.py); nothing else does.
    trusted_services_bypass: bool = False


class KeyVault(pulumi.ComponentResource):
    """A vault whose data plane is private and governed by Azure RBAC, plus the secrets other components put in it."""

    def __init__(self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:security:KeyVault", name, None, opts)
        self._name = name
        self._args = args
        vault = keyvault.Vault(
            f"{name}-kv",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            vault_name=args.vault_name,  # globally unique, 3-24 characters (checked in config)
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=SOFT_DELETE_DAYS,
                enable_purge_protection=True,  # cannot be turned off once on
                public_network_access="Disabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Deny",
                    bypass="AzureServices" if args.trusted_services_bypass else "None",
                    ip_rules=[],
                ),
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
            ),
            tags=dict(args.placement.tags),
            opts=args.protection.options(self),
        )
        args.protection.lock(f"{name}-kv", vault, self, "Key Vault")
        self._vault = vault
        endpoint = PrivateEndpoint(
            f"{name}-vault",
            PrivateEndpointArgs(
                spec=args.private_endpoint, target_resource_id=vault.id, group_id="vault", zone_key="vault"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.private_endpoints = [endpoint]
        diagnostics(
            f"{name}-kv",
            resource_id=vault.id,
            workspace_id=args.diagnostics_workspace_id,
            parent=self,
            category_groups=("audit",),
        )
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.vault_uri = vault.properties.apply(lambda props: props.vault_uri or "")
        self.secret_names: dict[str, pulumi.Output[str]] = {}
        # What pods need before they start: the private path the secrets-store CSI driver reads through, and every
        # secret stored here (add_secret appends).
        self.workload_needs: list[pulumi.Resource] = [endpoint]
        self.register_outputs({"vault_id": self.vault_id, "vault_uri": self.vault_uri})

    def add_secret(
        self, key: str, secret_name: str, value: pulumi.Input[str], *, expires: int | None = None
    ) -> keyvault.Secret:
        """Store an operator-provided or computed secret; the value travels as a Pulumi secret end to end.

        `expires` (UTC epoch seconds) is when this version must no longer be needed. Secrets are written through ARM
        (control plane), so a deployment needs no line of sight to the private data plane; a new value or expiry
        writes a new version."""
        secret = keyvault.Secret(
            f"{self._name}-{key}",
            resource_group_name=self._args.placement.resource_group_name,
            vault_name=self._vault.name,
            secret_name=secret_name,
            properties=keyvault.SecretPropertiesArgs(
                value=pulumi.Output.secret(value),
                content_type="text/plain",
                attributes=keyvault.SecretAttributesArgs(enabled=True, expires=expires) if expires else None,
            ),
            tags=dict(self._args.placement.tags),
            opts=pulumi.ResourceOptions(
                parent=self, protect=self._args.protection.protect, additional_secret_outputs=["properties"]
            ),
        )
        self.secret_names[key] = secret.name
        self.workload_needs.append(secret)
        return secret

    def add_generated_password(
        self, key: str, secret_name: str, *, generation: int, expires: int, length: int = 32
    ) -> pulumi.Output[str]:
        """Generate a password with pulumi-random, store it in the vault with its expiry, and return it as a secret
        output. A new `generation` (configuration/rotation.py) replaces the password: that is the rotation."""
        password = random.RandomPassword(
            f"{self._name}-{key}-password",
            keepers={"generation": str(generation)},
            length=length,
            special=True,
            # Characters that survive JDBC URLs, HOCON and shell quoting without escaping.
            override_special="-_.~",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.add_secret(key, secret_name, password.result, expires=expires)
        return pulumi.Output.secret(password.result)
