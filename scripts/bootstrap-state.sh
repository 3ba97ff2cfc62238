#!/usr/bin/env bash
# One-time set-up of the self-managed Pulumi state for coa-lockdown, with the Azure CLI:
#   - a storage account for the azblob:// backend: Entra ID only (shared key off), no public blob
#     access, TLS 1.2, infrastructure encryption, versioning, soft delete, point-in-time restore, a
#     CanNotDelete lock; optionally default-deny with a private endpoint;
#   - the state container;
#   - a Key Vault (RBAC, purge protection) and the RSA key behind azurekeyvault:// secrets;
#   - two Entra applications for GitHub Actions, federated with the repository (no client secret):
#       <prefix>-preview  subjects pull_request and environment:drift (the scheduled drift check): Reader,
#                         Storage Blob Data Reader, Key Vault Crypto User, Azure Kubernetes Service RBAC
#                         Reader and Cluster User Role (read the release on the private cluster)
#       <prefix>-deploy   subjects ref:refs/heads/main and environment:<prod>: Contributor, Role Based
#                         Access Control Administrator, <prefix>-lock-operator (custom: management locks
#                         only), <prefix>-policy-assigner (custom: policy assignments only),
#                         <prefix>-policy-author (custom: policy definitions only, on the subscription),
#                         Storage Blob Data Contributor, Crypto User
# Every step looks before it creates, so the script can be run again. --dry-run prints the commands
# that change something, assuming nothing exists yet, and runs none of them (it needs no az login).
set -euo pipefail

readonly GITHUB_OIDC_ISSUER="https://token.actions.githubusercontent.com"
readonly OIDC_AUDIENCE="api://AzureADTokenExchange"
readonly GUID_RE='^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'
readonly GUID_PART='[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'

usage() {
  cat <<'EOF'
Usage: scripts/bootstrap-state.sh [options]

Required:
  --subscription-id GUID      subscription that holds the state resources
  --location NAME             Azure region, e.g. westeurope
  --resource-group NAME       resource group for the state resources (created if missing)
  --storage-account NAME      state storage account: 3-24 lowercase letters and digits, globally unique
  --key-vault NAME            Key Vault for the secrets provider key: 3-24 letters, digits, hyphens
  --github-repo OWNER/REPO    repository whose workflows may sign in

Optional:
  --container NAME            state container (default: pulumi-state)
  --key-name NAME             Key Vault key (default: pulumi-state)
  --app-prefix NAME           Entra application name prefix (default: coa-lockdown-github)
  --prod-environment NAME     GitHub environment of the prod deploy job (default: prod)
  --deploy-scope SCOPE        where the deploy identity may change resources
                              (default: /subscriptions/<subscription-id>)
  --preview-scope SCOPE       where the preview identity may read (default: the deploy scope)
  --assignable-role-ids LIST  comma-separated role definition GUIDs; limits which roles the deploy
                              identity may assign (strongly recommended)
  --data-account-id ID        an existing storage account a stack reads (dataStorageAccounts with
                              roleAssignments: stack), repeatable: the deploy identity may then assign
                              the workload's four data roles there (Reader, Storage Blob Delegator,
                              Storage Blob Data Reader/Contributor) and nothing else
  --sku NAME                  Standard_LRS|Standard_ZRS|Standard_GRS|Standard_GZRS|Standard_RAGRS|
                              Standard_RAGZRS (default: Standard_ZRS)
  --retention-days N          soft delete retention, 7-365 (default: 30)
  --network public|private    private: default-deny firewalls and private endpoints; GitHub-hosted
                              runners then cannot reach the state (default: public, Entra ID only)
  --pe-subnet-id ID           subnet for the private endpoints (required with --network private)
  --blob-dns-zone-id ID       privatelink.blob.core.windows.net zone for the blob endpoint
  --vault-dns-zone-id ID      privatelink.vaultcore.azure.net zone for the vault endpoint
  --operator-object-id GUID   who runs this script (default: the signed-in user)
  --operator-principal-type T User|Group|ServicePrincipal (default: User)
  --dry-run                   print the commands, run nothing
  -h, --help                  this help
EOF
}

usage_error() {
  echo "bootstrap-state.sh: $*" >&2
  echo "Run scripts/bootstrap-state.sh --help for the options." >&2
  exit 2
}

fail() {
  echo "bootstrap-state.sh: $*" >&2
  exit 1
}

note() { echo "# $*"; }

subscription="" location="" resource_group="" storage_account="" key_vault="" github_repo=""
container="pulumi-state" key_name="pulumi-state" app_prefix="coa-lockdown-github"
prod_environment="prod" deploy_scope="" preview_scope="" assignable_role_ids=""
data_account_ids=()
sku="Standard_ZRS" retention_days="30" network="public" pe_subnet_id="" blob_dns_zone_id=""
vault_dns_zone_id="" operator_object_id="" operator_principal_type="User" dry_run=false

while [[ $# -gt 0 ]]; do
  option=$1
  case ${option} in
    -h | --help) usage; exit 0 ;;
    --dry-run) dry_run=true; shift; continue ;;
    --*) ;;
    *) usage_error "unexpected argument '${option}'" ;;
  esac
  if [[ $# -lt 2 || $2 == --* ]]; then
    usage_error "${option} needs a value"
  fi
  value=$2
  shift 2
  case ${option} in
    --subscription-id) subscription=${value} ;;
    --location) location=${value} ;;
    --resource-group) resource_group=${value} ;;
    --storage-account) storage_account=${value} ;;
    --key-vault) key_vault=${value} ;;
    --github-repo) github_repo=${value} ;;
    --container) container=${value} ;;
    --key-name) key_name=${value} ;;
    --app-prefix) app_prefix=${value} ;;
    --prod-environment) prod_environment=${value} ;;
    --deploy-scope) deploy_scope=${value} ;;
    --preview-scope) preview_scope=${value} ;;
    --assignable-role-ids) assignable_role_ids=${value} ;;
    --data-account-id) data_account_ids+=("${value}") ;;
    --sku) sku=${value} ;;
    --retention-days) retention_days=${value} ;;
    --network) network=${value} ;;
    --pe-subnet-id) pe_subnet_id=${value} ;;
    --blob-dns-zone-id) blob_dns_zone_id=${value} ;;
    --vault-dns-zone-id) vault_dns_zone_id=${value} ;;
    --operator-object-id) operator_object_id=${value} ;;
    --operator-principal-type) operator_principal_type=${value} ;;
    *) usage_error "unknown option '${option}'" ;;
  esac
done

missing=()
for pair in subscription-id:subscription location:location resource-group:resource_group \
  storage-account:storage_account key-vault:key_vault github-repo:github_repo; do
  variable=${pair#*:}
  [[ -n ${!variable} ]] || missing+=("--${pair%%:*}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  usage_error "missing required option(s): ${missing[*]}"
fi

# check OPTION VALUE REGEX EXPLANATION
check() {
  [[ $2 =~ $3 ]] || usage_error "$1 '$2': $4"
}

check --subscription-id "${subscription}" "${GUID_RE}" "must be a subscription GUID"
check --location "${location}" '^[a-z0-9]+$' "must be a region name such as westeurope"
# Resource group names: 1-90 of letters, digits, . _ - ( ), not ending in a period.
check --resource-group "${resource_group}" '^[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]$' \
  "must be 1-90 letters, digits, '.', '_', '-', '(' or ')', not ending in '.'"
check --storage-account "${storage_account}" '^[a-z0-9]{3,24}$' "must be 3-24 lowercase letters and digits"
check --container "${container}" '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' \
  "must be 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric"
[[ ${container} != *--* ]] || usage_error "--container '${container}': must not contain '--'"
check --key-vault "${key_vault}" '^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$' \
  "must be 3-24 letters, digits and hyphens, start with a letter and end with a letter or digit"
[[ ${key_vault} != *--* ]] || usage_error "--key-vault '${key_vault}': must not contain '--'"
check --key-name "${key_name}" '^[A-Za-z0-9-]{1,127}$' "must be 1-127 letters, digits and hyphens"
check --github-repo "${github_repo}" '^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$' \
  "must be OWNER/REPO as GitHub spells it"
check --app-prefix "${app_prefix}" '^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$' "must be letters, digits, '.', '_', '-'"
check --prod-environment "${prod_environment}" '^[A-Za-z0-9._-]{1,255}$' "must be a GitHub environment name"
check --sku "${sku}" '^Standard_(LRS|ZRS|GRS|GZRS|RAGRS|RAGZRS)$' \
  "must be one of Standard_LRS, Standard_ZRS, Standard_GRS, Standard_GZRS, Standard_RAGRS, Standard_RAGZRS"
check --retention-days "${retention_days}" '^[0-9]{1,3}$' "must be a whole number of days between 7 and 365"
if ((10#${retention_days} < 7 || 10#${retention_days} > 365)); then
  usage_error "--retention-days '${retention_days}': must be between 7 and 365"
fi
retention_days=$((10#${retention_days}))
check --network "${network}" '^(public|private)$' "must be 'public' or 'private'"
check --operator-principal-type "${operator_principal_type}" '^(User|Group|ServicePrincipal)$' \
  "must be User, Group or ServicePrincipal"

deploy_scope=${deploy_scope:-/subscriptions/${subscription}}
preview_scope=${preview_scope:-${deploy_scope}}
scope_re="^/subscriptions/${GUID_PART}(/resourceGroups/[A-Za-z0-9._()-]+)?$"
check --deploy-scope "${deploy_scope}" "${scope_re}" "must be /subscriptions/<guid> or /subscriptions/<guid>/resourceGroups/<name>"
for data_account_id in "${data_account_ids[@]}"; do
  check --data-account-id "${data_account_id}" \
    "^/subscriptions/${GUID_PART}/resourceGroups/[A-Za-z0-9._()-]+/providers/Microsoft.Storage/storageAccounts/[a-z0-9]{3,24}$" \
    "must be a storage account id: /subscriptions/<guid>/resourceGroups/<name>/providers/Microsoft.Storage/storageAccounts/<name>"
done
check --preview-scope "${preview_scope}" "${scope_re}" "must be /subscriptions/<guid> or /subscriptions/<guid>/resourceGroups/<name>"
# The workflows deploy into the subscription of the deploy scope.
workload_subscription=${deploy_scope#/subscriptions/}
workload_subscription=${workload_subscription%%/*}

role_ids=()
if [[ -n ${assignable_role_ids} ]]; then
  IFS=',' read -r -a role_ids <<<"${assignable_role_ids}"
  for role_id in "${role_ids[@]}"; do
    check --assignable-role-ids "${role_id}" "${GUID_RE}" "every entry must be a role definition GUID"
  done
fi
if [[ -n ${operator_object_id} ]]; then
  check --operator-object-id "${operator_object_id}" "${GUID_RE}" "must be an object id (GUID)"
fi
if [[ ${network} == private ]]; then
  [[ -n ${pe_subnet_id} ]] || usage_error "--network private needs --pe-subnet-id (else nothing can reach the state)"
  check --pe-subnet-id "${pe_subnet_id}" \
    "^/subscriptions/${GUID_PART}/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$" \
    "must be a subnet resource id"
elif [[ -n ${pe_subnet_id}${blob_dns_zone_id}${vault_dns_zone_id} ]]; then
  usage_error "--pe-subnet-id and the DNS zone options only apply with --network private"
fi
zone_re="^/subscriptions/${GUID_PART}/resourceGroups/[^/]+/providers/Microsoft.Network/privateDnsZones/"
[[ -z ${blob_dns_zone_id} ]] || check --blob-dns-zone-id "${blob_dns_zone_id}" \
  "${zone_re}privatelink\\.blob\\.core\\.windows\\.net$" "must be the id of a privatelink.blob.core.windows.net zone"
[[ -z ${vault_dns_zone_id} ]] || check --vault-dns-zone-id "${vault_dns_zone_id}" \
  "${zone_re}privatelink\\.vaultcore\\.azure\\.net$" "must be the id of a privatelink.vaultcore.azure.net zone"

# --- execution helpers -------------------------------------------------------------------------

# Prints a command so that it can be pasted into a shell: words with special characters are
# single-quoted.
show_command() {
  local word line="+"
  for word in "$@"; do
    if [[ ${word} =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then
      line+=" ${word}"
    else
      line+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  printf '%s\n' "${line}"
}

# run COMMAND...: a command that changes something.
run() {
  show_command "$@"
  [[ ${dry_run} == true ]] || "$@"
}

# run_into VAR PLACEHOLDER COMMAND...: like run, storing stdout in VAR (PLACEHOLDER in a dry run).
run_into() {
  local into=$1 placeholder=$2 output
  shift 2
  show_command "$@"
  if [[ ${dry_run} == true ]]; then
    output=${placeholder}
  else
    output=$("$@")
  fi
  printf -v "${into}" '%s' "${output}"
}

# exists COMMAND...: true when a read-only az command succeeds; a dry run assumes nothing exists.
exists() {
  [[ ${dry_run} == false ]] && "$@" >/dev/null 2>&1
}

# lookup COMMAND...: stdout of a read-only az command, empty when it fails or in a dry run.
lookup() {
  [[ ${dry_run} == false ]] || return 0
  "$@" 2>/dev/null || true
}

ensure_role() {
  local principal=$1 principal_type=$2 role=$3 scope=$4 condition=${5:-}
  if [[ -n $(lookup az role assignment list --assignee "${principal}" --role "${role}" --scope "${scope}" --query '[0].id' --output tsv) ]]; then
    note "role '${role}' for ${principal} on ${scope} already assigned"
    return 0
  fi
  # --assignee-principal-type skips the Graph lookup, which fails for a principal created seconds ago.
  local command=(az role assignment create --assignee-object-id "${principal}"
    --assignee-principal-type "${principal_type}" --role "${role}" --scope "${scope}" --output none)
  if [[ -n ${condition} ]]; then
    command+=(--condition "${condition}" --condition-version 2.0)
  fi
  run "${command[@]}"
}

# Custom roles holding one kind of action each, which neither Contributor nor RBAC Administrator has: management locks
# (production stacks lock their data stores) and policy assignments (the cluster's image admission policy).
ensure_custom_role() {
  local name=$1 scope=$2 description=$3 actions=$4
  local body
  body=$(printf '{"Name": "%s", "Description": "%s", "Actions": %s, "NotActions": [], "AssignableScopes": ["%s"]}' \
    "${name}" "${description}" "${actions}" "${scope}")
  if [[ -n $(lookup az role definition list --name "${name}" --scope "${scope}" --query '[0].id' --output tsv) ]]; then
    # Brought to this version's actions: a role made by an older bootstrap may lack some.
    note "role definition '${name}' exists; setting its actions"
    run az role definition update --output none --role-definition "${body}"
    return 0
  fi
  run az role definition create --output none --role-definition "${body}"
}

ensure_app() {
  local into=$1 name=$2 app_id
  app_id=$(lookup az ad app list --display-name "${name}" --query '[0].appId' --output tsv)
  if [[ -z ${app_id} ]]; then
    run_into app_id "<appId of ${name}>" az ad app create --display-name "${name}" \
      --sign-in-audience AzureADMyOrg --query appId --output tsv
  else
    note "application ${name} exists (${app_id})"
  fi
  printf -v "${into}" '%s' "${app_id}"
}

ensure_service_principal() {
  local into=$1 app_id=$2 name=$3 object_id
  object_id=$(lookup az ad sp show --id "${app_id}" --query id --output tsv)
  if [[ -z ${object_id} ]]; then
    run_into object_id "<service principal of ${name}>" az ad sp create --id "${app_id}" --query id --output tsv
  fi
  printf -v "${into}" '%s' "${object_id}"
}

ensure_federated_credential() {
  local app_id=$1 name=$2 subject=$3 parameters
  if [[ -n $(lookup az ad app federated-credential list --id "${app_id}" --query "[?subject=='${subject}'].name" --output tsv) ]]; then
    note "federated credential for ${subject} exists"
    return 0
  fi
  parameters=$(printf '{"name":"%s","issuer":"%s","subject":"%s","audiences":["%s"],"description":"GitHub Actions %s"}' \
    "${name}" "${GITHUB_OIDC_ISSUER}" "${subject}" "${OIDC_AUDIENCE}" "${subject}")
  run az ad app federated-credential create --id "${app_id}" --parameters "${parameters}" --output none
}

# Role assignment writes and deletes only for the listed role definitions (Azure ABAC condition); the listed
# ones are --assignable-role-ids unless given as arguments.
assignable_roles_condition() {
  local ids
  if [[ $# -gt 0 ]]; then
    ids=$(IFS=','; echo "$*")
  else
    ids=$(IFS=','; echo "${role_ids[*]}")
  fi
  ids=${ids//,/, }
  printf "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {%s})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {%s}))" "${ids}" "${ids}"
}

# --- preconditions -----------------------------------------------------------------------------

if [[ ${dry_run} == false ]]; then
  command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is not on PATH"
  az account show --output none >/dev/null 2>&1 || fail "not signed in to Azure: run 'az login' first"
fi
run az account set --subscription "${subscription}"

tenant_id=$(lookup az account show --query tenantId --output tsv)
tenant_id=${tenant_id:-<tenant id>}
if [[ -z ${operator_object_id} ]]; then
  operator_object_id=$(lookup az ad signed-in-user show --query id --output tsv)
  if [[ -z ${operator_object_id} ]]; then
    [[ ${dry_run} == true ]] || fail "cannot find the signed-in user's object id: pass --operator-object-id"
    operator_object_id="<signed-in user object id>"
  fi
fi

rg_id="/subscriptions/${subscription}/resourceGroups/${resource_group}"
account_id="${rg_id}/providers/Microsoft.Storage/storageAccounts/${storage_account}"
container_scope="${account_id}/blobServices/default/containers/${container}"
vault_id="${rg_id}/providers/Microsoft.KeyVault/vaults/${key_vault}"
key_scope="${vault_id}/keys/${key_name}"
tags=(purpose=pulumi-state project=coa-lockdown)

if [[ ${network} == private ]]; then
  public_network_access=Disabled default_action=Deny
else
  public_network_access=Enabled default_action=Allow
fi

# --- state storage -----------------------------------------------------------------------------

run az group create --name "${resource_group}" --location "${location}" --tags "${tags[@]}" --output none

storage_settings=(--min-tls-version TLS1_2 --https-only true --allow-blob-public-access false
  --allow-shared-key-access false --default-to-oauth-authentication true
  --allow-cross-tenant-replication false --public-network-access "${public_network_access}"
  --default-action "${default_action}" --bypass AzureServices)
if exists az storage account show --name "${storage_account}" --resource-group "${resource_group}"; then
  run az storage account update --name "${storage_account}" --resource-group "${resource_group}" \
    "${storage_settings[@]}" --output none
else
  if [[ ${dry_run} == false ]] &&
    [[ $(az storage account check-name --name "${storage_account}" --query nameAvailable --output tsv) != true ]]; then
    fail "storage account name '${storage_account}' is taken in another subscription or tenant"
  fi
  # Infrastructure encryption can only be chosen when the account is created.
  run az storage account create --name "${storage_account}" --resource-group "${resource_group}" \
    --location "${location}" --kind StorageV2 --sku "${sku}" --require-infrastructure-encryption true \
    "${storage_settings[@]}" --tags "${tags[@]}" --output none
fi

# Point-in-time restore needs versioning, change feed and soft delete, and a restore window shorter
# than the delete retention.
run az storage account blob-service-properties update --account-name "${storage_account}" \
  --resource-group "${resource_group}" --enable-versioning true --enable-change-feed true \
  --enable-delete-retention true --delete-retention-days "${retention_days}" \
  --enable-container-delete-retention true --container-delete-retention-days "${retention_days}" \
  --enable-restore-policy true --restore-days "$((retention_days - 1))" --output none

# container-rm goes through Azure Resource Manager: no data-plane role or network path needed.
if ! exists az storage container-rm show --storage-account "${storage_account}" \
  --resource-group "${resource_group}" --name "${container}"; then
  run az storage container-rm create --storage-account "${storage_account}" \
    --resource-group "${resource_group}" --name "${container}" --public-access off --output none
fi

# Blocks deleting the account (and with it every stack's state); data-plane writes are unaffected.
run az lock create --name pulumi-state-do-not-delete --lock-type CanNotDelete \
  --resource-group "${resource_group}" --resource-type Microsoft.Storage/storageAccounts \
  --resource "${storage_account}" --notes "Pulumi state for coa-lockdown" --output none

# --- secrets provider key ----------------------------------------------------------------------

if exists az keyvault show --name "${key_vault}" --resource-group "${resource_group}"; then
  run az keyvault update --name "${key_vault}" --resource-group "${resource_group}" \
    --enable-rbac-authorization true --enable-purge-protection true --output none
else
  if [[ -n $(lookup az keyvault list-deleted --resource-type vault --query "[?name=='${key_vault}'].name" --output tsv) ]]; then
    fail "Key Vault '${key_vault}' is soft-deleted: recover it with 'az keyvault recover --name ${key_vault}' or pick another name"
  fi
  # Public access stays on until the key exists: creating a key is a data-plane call.
  run az keyvault create --name "${key_vault}" --resource-group "${resource_group}" \
    --location "${location}" --sku standard --enable-rbac-authorization true \
    --enable-purge-protection true --retention-days 90 --public-network-access Enabled \
    --tags "${tags[@]}" --output none
fi

# The operator needs data-plane rights to create the key and to run `pulumi stack init` once.
ensure_role "${operator_object_id}" "${operator_principal_type}" "Key Vault Crypto Officer" "${vault_id}"
ensure_role "${operator_object_id}" "${operator_principal_type}" "Storage Blob Data Contributor" "${container_scope}"

if ! exists az keyvault key show --vault-name "${key_vault}" --name "${key_name}"; then
  # No rotation policy: Pulumi stores the data key encrypted under this key without a key version, so
  # a rotated key could no longer decrypt the stacks' existing data keys.
  key_command=(az keyvault key create --vault-name "${key_vault}" --name "${key_name}" --kty RSA
    --size 3072 --ops encrypt decrypt --output none)
  if [[ ${dry_run} == true ]]; then
    run "${key_command[@]}"
  else
    # A new role assignment can take a few minutes to reach Key Vault.
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      if run "${key_command[@]}"; then break; fi
      [[ ${attempt} -lt 10 ]] || fail "could not create key '${key_name}' in '${key_vault}'"
      note "waiting for the Key Vault Crypto Officer assignment to take effect (attempt ${attempt})"
      sleep 30
    done
  fi
fi

if [[ ${network} == private ]]; then
  run az keyvault update --name "${key_vault}" --resource-group "${resource_group}" \
    --public-network-access Disabled --default-action Deny --bypass AzureServices --output none
  for endpoint in "blob:${account_id}:${blob_dns_zone_id}" "vault:${vault_id}:${vault_dns_zone_id}"; do
    group=${endpoint%%:*} rest=${endpoint#*:}
    target=${rest%%:*} zone=${rest#*:}
    name="pep-${target##*/}-${group}"
    if ! exists az network private-endpoint show --name "${name}" --resource-group "${resource_group}"; then
      run az network private-endpoint create --name "${name}" --resource-group "${resource_group}" \
        --location "${location}" --subnet "${pe_subnet_id}" --private-connection-resource-id "${target}" \
        --group-id "${group}" --connection-name "${name}" --output none
    fi
    if [[ -n ${zone} ]]; then
      run az network private-endpoint dns-zone-group create --endpoint-name "${name}" \
        --resource-group "${resource_group}" --name default --private-dns-zone "${zone}" \
        --zone-name "${group}" --output none
    fi
  done
fi

# --- GitHub Actions identities -----------------------------------------------------------------

subject_prefix="repo:${github_repo}"
preview_app_id="" preview_sp_id="" deploy_app_id="" deploy_sp_id=""

# Pull requests run workflow code from the pull request itself, so this identity only reads.
ensure_app preview_app_id "${app_prefix}-preview"
ensure_service_principal preview_sp_id "${preview_app_id}" "${app_prefix}-preview"
ensure_federated_credential "${preview_app_id}" github-pull-request "${subject_prefix}:pull_request"
# The scheduled drift check (.github/workflows/drift.yml) previews with a refresh: read only, from main's code.
ensure_federated_credential "${preview_app_id}" github-environment-drift "${subject_prefix}:environment:drift"
ensure_role "${preview_sp_id}" ServicePrincipal Reader "${preview_scope}"
# Reading the Helm release back from the private cluster: a kubeconfig (Cluster User) and read-only Kubernetes RBAC.
ensure_role "${preview_sp_id}" ServicePrincipal "Azure Kubernetes Service Cluster User Role" "${preview_scope}"
ensure_role "${preview_sp_id}" ServicePrincipal "Azure Kubernetes Service RBAC Reader" "${preview_scope}"
ensure_role "${preview_sp_id}" ServicePrincipal "Storage Blob Data Reader" "${container_scope}"
ensure_role "${preview_sp_id}" ServicePrincipal "Key Vault Crypto User" "${key_scope}"

ensure_app deploy_app_id "${app_prefix}-deploy"
ensure_service_principal deploy_sp_id "${deploy_app_id}" "${app_prefix}-deploy"
ensure_federated_credential "${deploy_app_id}" github-main "${subject_prefix}:ref:refs/heads/main"
ensure_federated_credential "${deploy_app_id}" "github-environment-${prod_environment}" \
  "${subject_prefix}:environment:${prod_environment}"
ensure_role "${deploy_sp_id}" ServicePrincipal Contributor "${deploy_scope}"
# The program assigns roles to its managed identities, which Contributor cannot do.
if [[ ${#role_ids[@]} -gt 0 ]]; then
  ensure_role "${deploy_sp_id}" ServicePrincipal "Role Based Access Control Administrator" \
    "${deploy_scope}" "$(assignable_roles_condition)"
else
  note "WARNING: the deploy identity may assign any role but Owner, User Access Administrator and"
  note "RBAC Administrator on ${deploy_scope}; pass --assignable-role-ids to narrow it."
  ensure_role "${deploy_sp_id}" ServicePrincipal "Role Based Access Control Administrator" "${deploy_scope}"
fi
ensure_custom_role "${app_prefix}-lock-operator" "${deploy_scope}" \
  "Create and remove management locks (coa-lockdown production data stores)" \
  '["Microsoft.Authorization/locks/read", "Microsoft.Authorization/locks/write", "Microsoft.Authorization/locks/delete"]'
ensure_role "${deploy_sp_id}" ServicePrincipal "${app_prefix}-lock-operator" "${deploy_scope}"
ensure_custom_role "${app_prefix}-policy-assigner" "${deploy_scope}" \
  "Assign and remove Azure Policy assignments (coa-lockdown image admission on the cluster)" \
  '["Microsoft.Authorization/policyAssignments/read", "Microsoft.Authorization/policyAssignments/write", "Microsoft.Authorization/policyAssignments/delete"]'
ensure_role "${deploy_sp_id}" ServicePrincipal "${app_prefix}-policy-assigner" "${deploy_scope}"
# The stack's Batch pool definitions (components/batch_governance.py) live in the subscription: a definition's location
# is a subscription or management group, and Contributor may not write them. Not Resource Policy Contributor, which
# also grants policyExemptions/*, with which this identity could exempt the Batch account from its own deny.
ensure_custom_role "${app_prefix}-policy-author" "/subscriptions/${workload_subscription}" \
  "Create and remove Azure Policy definitions (coa-lockdown Batch pool governance)" \
  '["Microsoft.Authorization/policyDefinitions/read", "Microsoft.Authorization/policyDefinitions/write", "Microsoft.Authorization/policyDefinitions/delete"]'
ensure_role "${deploy_sp_id}" ServicePrincipal "${app_prefix}-policy-author" "/subscriptions/${workload_subscription}"
ensure_role "${deploy_sp_id}" ServicePrincipal "Storage Blob Data Contributor" "${container_scope}"
ensure_role "${deploy_sp_id}" ServicePrincipal "Key Vault Crypto User" "${key_scope}"
# Data accounts outside the deploy scope (sequencer output): the stack grants the workload identity its data roles
# there (components/data_storage.py), which only a role administrator on the account may do. Limited to those roles:
# Reader, Storage Blob Delegator, Storage Blob Data Reader, Storage Blob Data Contributor.
for data_account_id in "${data_account_ids[@]}"; do
  ensure_role "${deploy_sp_id}" ServicePrincipal "Role Based Access Control Administrator" "${data_account_id}" \
    "$(assignable_roles_condition acdd72a7-3385-48ef-bd42-f606fba81ae7 db58b8e5-c6ad-4a2a-8342-4190687cbf4a \
      2a2b9908-6ea1-4ae2-8e65-a410df84e7d1 ba92f5b4-2d11-453d-a403-e96b0029c9fe)"
done

cat <<EOF

# Repository variables (Settings > Secrets and variables > Actions > Variables); none is a secret:
AZURE_CLIENT_ID=${deploy_app_id}
AZURE_PREVIEW_CLIENT_ID=${preview_app_id}
AZURE_TENANT_ID=${tenant_id}
AZURE_SUBSCRIPTION_ID=${workload_subscription}
PULUMI_BACKEND_URL=azblob://${container}?storage_account=${storage_account}
PULUMI_SECRETS_PROVIDER=azurekeyvault://${key_vault}.vault.azure.net/keys/${key_name}

# Then, once per stack, as the operator (creates the stack and its data key):
#   pulumi login 'azblob://${container}?storage_account=${storage_account}'
#   pulumi stack init dev --secrets-provider 'azurekeyvault://${key_vault}.vault.azure.net/keys/${key_name}'
#   pulumi stack init prod --secrets-provider 'azurekeyvault://${key_vault}.vault.azure.net/keys/${key_name}'
# and commit the secretsprovider/encryptedkey lines this adds to Pulumi.dev.yaml and Pulumi.prod.yaml.
# Finally create the GitHub environment '${prod_environment}' with required reviewers and deployment
# branches limited to main.
EOF
