"""PostgreSQL flexible server for Cromwell (and TES from 4.0): VNet-integrated, TLS enforced, backed up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import dbforpostgresql as pg

from components.encryption import CustomerKey
from components.keyvault import KeyVault
from components.monitoring import diagnostics
from components.placement import Placement
from components.protection import Protection
from configuration.rotation import SLOTS, RotationSchedule, Slot
from configuration.settings import EntraAdminGroup

ADMIN_LOGIN = "coa_admin"
ADMIN_PASSWORD_SECRET = "postgres-admin-password"
CROMWELL_DATABASE = "cromwell_db"
TES_DATABASE = "tes_db"


# Slot a keeps the secret and resource names of the single login stacks had before slots: renaming a Key Vault secret
# replaces it, and these are protected in production. Slot b is new.
SLOT_SUFFIX: dict[Slot, str] = {"a": "", "b": "-b"}


@dataclass(frozen=True, kw_only=True)
class DatabaseUser:
    """An application database, the role that owns its objects, and two logins that take turns (configuration/rotation.py).

    ARM cannot create PostgreSQL roles: the database init hook creates them, as the admin, with the passwords in Key
    Vault. Each login is a member of the owner role and assumes it at login, so tables created through either login
    belong to the owner and a rotation never changes who owns what."""

    key: str
    database: str
    owner: str
    secret_prefix: str

    def login(self, slot: Slot) -> str:
        return f"{self.owner}_{slot}"

    def secret_name(self, slot: Slot) -> str:
        return self.secret_prefix + SLOT_SUFFIX[slot]


@dataclass(frozen=True, kw_only=True)
class DatabaseLogin:
    """One slot's login, as the database init hook needs it."""

    database: str
    owner: str
    login: str
    secret_name: str


CROMWELL_USER = DatabaseUser(
    key="cromwell", database=CROMWELL_DATABASE, owner="cromwell", secret_prefix="cromwell-db-password"
)
TES_USER = DatabaseUser(key="tes", database=TES_DATABASE, owner="tes", secret_prefix="tes-db-password")

# Server parameters; `require_secure_transport` is on by default, set here so nobody turns it off unnoticed.
TLS_PARAMETERS = (("require_secure_transport", "on"), ("ssl_min_protocol_version", "TLSv1.2"))


@dataclass(frozen=True, kw_only=True)
class PostgresArgs:
    placement: Placement
    server_name: str
    tenant_id: pulumi.Input[str]
    # Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers, and the privatelink.postgres zone linked to the
    # VNet: a VNet-integrated server takes no private endpoint and has no public endpoint.
    delegated_subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    # The zone's link to the VNet, when this stack creates it: Azure validates the zone's VNet link when the
    # server is created (the server registers its A record there and its clients resolve it through the link).
    private_dns_zone_link: pulumi.Resource | None
    vault: KeyVault
    # When each generated password is due and when its secret version expires.
    rotation: RotationSchedule
    diagnostics_workspace_id: pulumi.Input[str]
    version: str
    sku_name: str
    sku_tier: str
    storage_size_gb: int
    backup_retention_days: int
    high_availability: bool
    geo_redundant_backup: bool
    users: Sequence[DatabaseUser] = (CROMWELL_USER,)
    # The Entra ID group whose members administer the server with Entra tokens; None leaves Entra ID without admin.
    entra_admin: EntraAdminGroup | None = None
    protection: Protection = field(default_factory=Protection)
    # The server's key in the stack's vault (components/encryption.py): chosen at creation only, for the server's
    # lifetime (security-data-encryption.md); geo-redundant backup with it is refused in config. None: service keys.
    customer_key: CustomerKey | None = None


class Postgres(pulumi.ComponentResource):
    """A flexible server inside the VNet with password and Entra ID authentication (administered by the configured
    Entra ID group), TLS 1.2+ only, the configured backup retention (zone-redundant HA and geo-redundant backup where
    asked), one database per application, and every password generated into Key Vault; no password is ever an
    output."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:data:Postgres", name, None, opts)
        if args.high_availability and args.sku_tier == "Burstable":
            raise ValueError(f"postgres {name}: zone-redundant HA is not offered on the Burstable tier")
        cmk = args.customer_key
        if cmk and args.geo_redundant_backup:
            raise ValueError(
                f"postgres {name}: geo-redundant backup with a customer key needs a key in the backup region"
            )
        admin_password = args.vault.add_generated_password(
            "postgres-admin",
            ADMIN_PASSWORD_SECRET,
            generation=args.rotation.generation(),
            expires=args.rotation.expires(),
        )
        server = pg.Server(
            f"{name}-psql",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            server_name=args.server_name,  # becomes <name>.postgres.database.azure.com (checked in config)
            version=args.version,
            sku=pg.SkuArgs(name=args.sku_name, tier=args.sku_tier),
            storage=pg.StorageArgs(storage_size_gb=args.storage_size_gb, auto_grow=pg.StorageAutoGrow.ENABLED),
            create_mode=pg.CreateMode.CREATE,
            administrator_login=ADMIN_LOGIN,
            administrator_login_password=admin_password,
            # Cromwell's JDBC driver and TES (through 6.x) log in with passwords; Entra ID is on for operators.
            auth_config=pg.AuthConfigArgs(
                password_auth=pg.PasswordBasedAuth.ENABLED,
                active_directory_auth=pg.MicrosoftEntraAuth.ENABLED,
                tenant_id=args.tenant_id,
            ),
            network=pg.NetworkArgs(
                delegated_subnet_resource_id=args.delegated_subnet_id,
                private_dns_zone_arm_resource_id=args.private_dns_zone_id,
                public_network_access=pg.ServerPublicNetworkAccessState.DISABLED,
            ),
            high_availability=pg.HighAvailabilityArgs(
                mode=pg.PostgreSqlFlexibleServerHighAvailabilityMode.ZONE_REDUNDANT
                if args.high_availability
                else pg.PostgreSqlFlexibleServerHighAvailabilityMode.DISABLED
            ),
            # Geo-redundant backup can only be chosen when the server is created.
            backup=pg.BackupArgs(
                backup_retention_days=args.backup_retention_days,
                geo_redundant_backup=pg.GeographicallyRedundantBackup.ENABLED
                if args.geo_redundant_backup
                else pg.GeographicallyRedundantBackup.DISABLED,
            ),
            identity=pg.UserAssignedIdentityArgs(
                type=pg.IdentityType.USER_ASSIGNED,
                user_assigned_identities=cmk.identity.id.apply(lambda uami: {uami: pg.UserIdentityArgs()}),
            )
            if cmk
            else None,
            # Versionless key URI: the server picks up each rotated version and rewraps its data key by itself.
            data_encryption=pg.DataEncryptionArgs(
                type=pg.DataEncryptionType.AZURE_KEY_VAULT,
                primary_key_uri=cmk.key_uri,
                primary_user_assigned_identity_id=cmk.identity.id,
            )
            if cmk
            else None,
            tags=dict(args.placement.tags),
            # Azure reads the key with the identity while it creates the server: the grant comes first.
            opts=args.protection.options(
                self,
                depends_on=[
                    *([args.private_dns_zone_link] if args.private_dns_zone_link else []),
                    *([cmk.grant] if cmk else []),
                ]
                or None,
            ),
        )
        args.protection.lock(f"{name}-psql", server, self, "PostgreSQL server (Cromwell and TES databases)")
        # A flexible server runs one management operation at a time ("ServerIsBusy" otherwise): parameters and
        # databases are created one after another.
        previous: pulumi.Resource = server
        for parameter, value in TLS_PARAMETERS:
            previous = pg.Configuration(
                f"{name}-{parameter.replace('_', '-')}",
                resource_group_name=args.placement.resource_group_name,
                server_name=server.name,
                configuration_name=parameter,
                value=value,
                source="user-override",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous]),
            )
        if args.entra_admin is not None:
            # AdministratorsMicrosoftEntra (API 2025-08-01, the server's own API version) succeeds the preview
            # `Administrator` type and aliases it. The object id names the resource; the principal name must be the
            # group's display name, which becomes its PostgreSQL role.
            previous = pg.AdministratorsMicrosoftEntra(
                f"{name}-entra-admin",
                resource_group_name=args.placement.resource_group_name,
                server_name=server.name,
                object_id=args.entra_admin.object_id,
                principal_name=args.entra_admin.display_name,
                principal_type=pg.PrincipalType.GROUP,
                tenant_id=args.tenant_id,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous]),
            )
        self.database_names: dict[str, pulumi.Output[str]] = {}
        # What the workload's pods need before they start: the databases (created after the server, its TLS
        # parameters and Entra admin) and their passwords in the vault.
        self.workload_needs: list[pulumi.Resource] = []
        # The active slot's login and secret per application (what the pods use), and every slot (what the init
        # hook creates).
        self.password_secret_names: dict[str, str] = {"admin": ADMIN_PASSWORD_SECRET}
        self.logins: dict[str, str] = {}
        self.all_logins: list[DatabaseLogin] = []
        active = args.rotation.active_slot
        for user in args.users:
            database = pg.Database(
                f"{name}-{user.key}-db",
                resource_group_name=args.placement.resource_group_name,
                server_name=server.name,
                database_name=user.database,
                charset="UTF8",
                collation="en_US.utf8",
                opts=args.protection.options(self, depends_on=[previous]),
            )
            previous = database
            self.workload_needs.append(database)
            self.database_names[user.key] = database.name
            # The values go only to Key Vault; the init hook and the pods read them from there.
            for slot in SLOTS:
                args.vault.add_generated_password(
                    f"{user.key}-db{SLOT_SUFFIX[slot]}",
                    user.secret_name(slot),
                    generation=args.rotation.generation(slot),
                    expires=args.rotation.expires(slot),
                )
                self.all_logins.append(
                    DatabaseLogin(
                        database=user.database,
                        owner=user.owner,
                        login=user.login(slot),
                        secret_name=user.secret_name(slot),
                    )
                )
            self.password_secret_names[user.key] = user.secret_name(active)
            self.logins[user.key] = user.login(active)

        diagnostics(f"{name}-psql", resource_id=server.id, workspace_id=args.diagnostics_workspace_id, parent=self)

        self.id = server.id
        self.server_name = server.name
        self.fqdn = server.fully_qualified_domain_name
        self.admin_login = ADMIN_LOGIN
        self.register_outputs(
            {
                "id": self.id,
                "server_name": self.server_name,
                "fqdn": self.fqdn,
                "database_names": self.database_names,
                "password_secret_names": self.password_secret_names,
                "admin_login": self.admin_login,
            }
        )
