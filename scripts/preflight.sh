#!/usr/bin/env bash
# Operator preflight: checks on the real subscription what the offline preview cannot see (images present by digest,
# the blob CSI driver version, Batch quota, endpoint approvals, data-account access, private name resolution). The
# deploy workflow runs it after `pulumi up` and before scripts/smoke-test.sh; docs/preflight.md says what each check
# means and how to fix a FAIL. Run it from inside the network (the registry, the API server and the cluster's DNS are
# private), logged in with az.
#
#   scripts/preflight.sh <stack> [--only <check>[,<check>...]] [--outputs FILE]
#
# Input: the stack output `preflight` (JSON), from `pulumi stack output preflight --json --stack <stack>` or a file.
# kubectl uses $KUBECONFIG when it is set, else the stack's `kubeconfig` output (as scripts/smoke-test.sh does; it
# authenticates through kubelogin).
set -euo pipefail

CHECKS="images blob-csi batch-quota private-endpoints data-accounts private-names dns-links app-credentials cache-credentials"

usage() {
  cat <<'EOF'
usage: scripts/preflight.sh <stack> [--only <check>[,<check>...]] [--outputs FILE]

Checks a deployed stack on its subscription. One line per subject:
  PASS|FAIL|SKIP <check> <subject>: <reason>
then a summary. Exit 0 when nothing failed, 1 when a check failed, 2 on bad usage,
a missing tool or unreadable outputs.

Options:
  --only LIST     run only these checks (comma-separated names from the list below)
  --outputs FILE  read the `preflight` stack output from FILE instead of pulumi
  --help          show this help

Checks:
  images             every pinned image is in the registry by digest; a null digest fails
  blob-csi           the AKS blob CSI node plugin is at least aks.blobCsiMinVersion
  batch-quota        the Batch account's dedicated core quota covers dedicatedCoresNeeded
  private-endpoints  every private endpoint connection (ours and the data accounts') is Approved
  data-accounts      data accounts disallow anonymous blob access; owner-granted roles exist
  private-names      each private name resolves to an RFC 1918 address inside the cluster
  dns-links          each private DNS zone has a virtual-network link to the stack's VNet
  app-credentials    (taskDatabase cosmosdb) each application's client secret is valid as long as the stack says
  cache-credentials  each registry credential set (Docker Hub) reads its Key Vault secrets: health Healthy

Needs jq; az (logged in) for images, batch-quota, private-endpoints, data-accounts,
dns-links, app-credentials and cache-credentials; kubectl for blob-csi and private-names; pulumi unless --outputs is given and,
for the kubectl checks, KUBECONFIG is set. See docs/preflight.md.
EOF
}

die() {
  echo "preflight: $*" >&2
  exit 2
}

# Built-in role definition ids (the last segment of roleDefinitionId; components/access.py uses the same ids).
ROLE_READER=acdd72a7-3385-48ef-bd42-f606fba81ae7
ROLE_CONTRIBUTOR=b24988ac-6180-42a0-ab88-20f7382dd24c
ROLE_OWNER=8e3af657-a8ff-443c-a75c-2fe8c4bcb635
ROLE_BLOB_READER=2a2b9908-6ea1-4ae2-8e65-a410df84e7d1
ROLE_BLOB_CONTRIBUTOR=ba92f5b4-2d11-453d-a403-e96b0029c9fe
ROLE_BLOB_DELEGATOR=db58b8e5-c6ad-4a2a-8342-4190687cbf4a

# --- arguments ---------------------------------------------------------------------------------------------------
stack="" only="" outputs_file=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --help | -h)
      usage
      exit 0
      ;;
    --only | --outputs)
      [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"
      if [[ $1 == --only ]]; then only=$2; else outputs_file=$2; fi
      shift 2
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [[ -z ${stack} ]] || die "one stack only, got '${stack}' and '$1'"
      stack=$1
      shift
      ;;
  esac
done
[[ -n ${stack} ]] || {
  usage >&2
  exit 2
}
[[ ${stack} =~ ^[A-Za-z0-9_.-]+$ ]] || die "'${stack}' is not a stack name"

selected=${CHECKS}
if [[ -n ${only} ]]; then
  IFS=, read -r -a wanted <<<"${only}"
  for name in "${wanted[@]}"; do
    [[ " ${CHECKS} " == *" ${name} "* ]] || die "--only: unknown check '${name}' (checks: ${CHECKS// /, })"
  done
  # Always in the documented order.
  selected=""
  for name in ${CHECKS}; do
    [[ ",${only}," == *",${name},"* ]] && selected="${selected:+${selected} }${name}"
  done
  [[ -n ${selected} ]] || die "--only needs at least one check"
fi
selects() { [[ " ${selected} " == *" $1 "* ]]; }

# --- tools -------------------------------------------------------------------------------------------------------
needs_az=false needs_kubectl=false needs_pulumi=false
for name in images batch-quota private-endpoints data-accounts dns-links app-credentials cache-credentials; do selects "${name}" && needs_az=true; done
for name in blob-csi private-names; do selects "${name}" && needs_kubectl=true; done
[[ -z ${outputs_file} ]] && needs_pulumi=true
[[ ${needs_kubectl} == true && -z ${KUBECONFIG:-} ]] && needs_pulumi=true
missing=0
require() {
  command -v "$1" >/dev/null || {
    echo "preflight: $1 is not on PATH ($2)" >&2
    missing=1
  }
}
require jq "it reads the outputs and every answer"
[[ ${needs_az} == true ]] && require az "install the Azure CLI and az login"
[[ ${needs_kubectl} == true ]] && require kubectl "blob-csi and private-names run kubectl"
[[ ${needs_pulumi} == true ]] && require pulumi "it reads the stack outputs; or pass --outputs FILE and set KUBECONFIG"
[[ ${missing} -eq 0 ]] || exit 2

tmpdir=$(mktemp -d)
trap 'rm -rf "${tmpdir}"' EXIT

# --- outputs -----------------------------------------------------------------------------------------------------
if [[ -n ${outputs_file} ]]; then
  [[ -r ${outputs_file} ]] || die "--outputs: cannot read '${outputs_file}'"
  outputs=$(cat "${outputs_file}")
else
  outputs=$(pulumi stack output preflight --json --stack "${stack}" 2>"${tmpdir}/stderr") ||
    die "cannot read output 'preflight' of stack ${stack}: $(head -n 3 "${tmpdir}/stderr" | tr '\n' ' ')"
fi
jq -e 'type == "object"' >/dev/null 2>&1 <<<"${outputs}" || die "the preflight outputs are not a JSON object"

# Every key the selected checks read, with its type: a wrong shape is a broken output, not a failed check.
problems=$(jq -r --arg stack "${stack}" --arg checks " ${selected} " '
  . as $doc
  | def at($p): $doc | try getpath($p) catch null;
  def need($p; $types): (at($p) | type) as $t
    | if ($types | index($t)) then empty else "\($p | map(tostring) | join(".")) must be \($types | join(" or ")), not \($t)" end;
  # f runs once per element, with the element'"'"'s path as input.
  def each($p; f): if (at($p) | type) == "array" then range(0; at($p) | length) as $i | ($p + [$i]) | f else need($p; ["array"]) end;
  def on($c): $checks | contains(" \($c) ");
  (if .stack != $stack then "stack is \(.stack | tojson), not \"\($stack)\" (outputs of another stack?)" else empty end),
  need(["subscriptionId"]; ["string"]),
  (if on("images") then need(["registry", "name"]; ["string"]),
     each(["registry", "images"]; . as $q | need($q + ["key"]; ["string"]), need($q + ["repository"]; ["string"]),
       need($q + ["digest"]; ["string", "null"]), need($q + ["source"]; ["string", "null"])) else empty end),
  (if on("blob-csi") then need(["aks", "blobCsiMinVersion"]; ["string"]) else empty end),
  (if on("private-names") then need(["aks", "namespace"]; ["string"]), need(["aks", "probeDeployment"]; ["string"]),
     each(["privateNames"]; need(.; ["string"])) else empty end),
  (if on("batch-quota") then need(["batch", "accountName"]; ["string"]), need(["batch", "resourceGroup"]; ["string"]),
     need(["batch", "dedicatedCoresNeeded"]; ["object"]),
     (at(["batch", "dedicatedCoresNeeded"]) | if type == "object" then keys[] as $k | need(["batch", "dedicatedCoresNeeded", $k]; ["number"])
      else empty end) else empty end),
  (if on("private-endpoints") then each(["privateEndpoints"]; . as $q | need($q + ["name"]; ["string"]), need($q + ["id"]; ["string"]))
     else empty end),
  (if on("private-endpoints") or on("data-accounts") then each(["dataAccounts"]; . as $q
     | need($q + ["name"]; ["string"]), need($q + ["id"]; ["string"]), need($q + ["privateEndpointId"]; ["string", "null"]),
       need($q + ["rolesGrantedBy"]; ["string"]), need($q + ["principalId"]; ["string"]),
       (if (at($q + ["rolesGrantedBy"]) | IN("stack", "owner")) then empty
        else "\($q | map(tostring) | join(".")).rolesGrantedBy must be \"stack\" or \"owner\"" end),
       each($q + ["containers"]; . as $c | need($c + ["name"]; ["string"]),
         (if (at($c + ["access"]) | IN("read", "readWrite")) then empty
          else "\($c | map(tostring) | join(".")).access must be \"read\" or \"readWrite\"" end))) else empty end),
  (if on("dns-links") then need(["vnetId"]; ["string"]),
     each(["dnsZones"]; . as $q | need($q + ["name"]; ["string"]), need($q + ["id"]; ["string"])) else empty end),
  (if on("cache-credentials") then need(["registry", "name"]; ["string"]),
     each(["registry", "credentialSets"]; need(.; ["string"])) else empty end),
  (if on("app-credentials") then each(["applications"]; . as $q | need($q + ["workload"]; ["string"]),
     need($q + ["clientId"]; ["string"]),
     (if (at($q + ["secretExpiresOn"]) | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")) then empty
      else "\($q | map(tostring) | join(".")).secretExpiresOn must be a date YYYY-MM-DD" end)) else empty end)
' <<<"${outputs}")
[[ -z ${problems} ]] || die "the preflight outputs do not have the expected shape:
${problems}"

# Lines of fields from the outputs, separated by \x1f (a non-whitespace IFS character keeps empty fields in place).
rows() { jq -r "$1 | map(if . == null then \"\" else tostring end) | join(\"\u001f\")" <<<"${outputs}"; }
field() { jq -r "$1 // empty" <<<"${outputs}"; }
lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
subscription=$(field .subscriptionId)

# --- results -----------------------------------------------------------------------------------------------------
passed=0 failed=0 skipped=0 failed_checks=""
result() {
  printf '%s %s %s: %s\n' "$1" "$2" "$3" "$4"
  case $1 in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    FAIL)
      failed=$((failed + 1))
      [[ " ${failed_checks} " == *" $2 "* ]] || failed_checks="${failed_checks:+${failed_checks} }$2"
      ;;
  esac
}
pass() { result PASS "$@"; }
fail() { result FAIL "$@"; }
skip() { result SKIP "$@"; }

# Runs a command with stdin closed (loops read the outputs from stdin): stdout in ${out}, exit status in ${rc}, and
# its first error line (az's "ERROR: " prefix and warnings dropped) in ${err}.
out="" err="" rc=0
capture() {
  rc=0
  out=$("$@" </dev/null 2>"${tmpdir}/stderr") || rc=$?
  err=$(grep -v '^WARNING' "${tmpdir}/stderr" | grep -m 1 . | sed -e 's/^ERROR: //' | cut -c 1-300) || true
  [[ -n ${err} ]] || err="exit status ${rc}"
  return "${rc}"
}

# --- 1. images -----------------------------------------------------------------------------------------------------
# `az acr repository show --image` takes 'name:tag' or 'name@digest' (Azure/azure-cli@0166521:
# src/azure-cli/azure/cli/command_modules/acr/_params.py, image_by_tag_or_digest_type, used by the 'acr repository'
# arguments); a data-plane call, so it needs line of sight to the registry's private endpoint.
check_images() {
  local registry count key repository digest
  registry=$(field .registry.name)
  count=$(jq '.registry.images | length' <<<"${outputs}")
  [[ ${count} -gt 0 ]] || {
    skip images "${registry}" "no images declared"
    return 0
  }
  while IFS=$'\x1f' read -r key repository digest source; do
    if [[ -z ${digest} ]]; then
      fail images "${key}" "${repository} has no digest (pending pin): pin it in images.lock.json, then pulumi up"
    elif [[ ! ${digest} =~ ^sha256:[0-9a-f]{64}$ ]]; then
      fail images "${key}" "'${digest}' is not a sha256 digest"
    elif capture az acr repository show --name "${registry}" --image "${repository}@${digest}" --output json; then
      pass images "${key}" "${repository}@${digest} is in ${registry}"
    elif [[ ${source} == cache ]]; then
      fail images "${key}" "${repository}@${digest} is not in ${registry} (${err}): a cache-rule image is stored on its first pull; pull it once by digest through the registry"
    else
      fail images "${key}" "${repository}@${digest} is not in ${registry}: ${err}"
    fi
  done < <(rows '.registry.images[] | [.key, .repository, .digest, .source]')
}

# --- 2. blob CSI driver -------------------------------------------------------------------------------------------
# The node plugin is DaemonSet csi-blob-node in kube-system, its driver container `blob`, image tag = driver version
# (kubernetes-sigs/blob-csi-driver@v1.27.0:deploy/csi-blob-node.yaml:5,125-126; AKS runs the managed driver under
# the same names). mountWithWorkloadIdentityToken mounts only get fresh tokens from v1.27.0: PR #2071 (merge
# 77dafc1) sets requiresRepublish and a 1-hour token (deploy/csi-blob-driver.yaml:13-16) and hands blobfuse a token
# file it rewrites on each republish (pkg/blob/blob.go:592-601); no v1.26.x tag has it.
version_at_least() {
  local have=$1 want=$2 i h w
  for i in 1 2 3; do
    h=$(cut -d . -f "${i}" <<<"${have}")
    w=$(cut -d . -f "${i}" <<<"${want}")
    ((10#${h:-0} > 10#${w:-0})) && return 0
    ((10#${h:-0} < 10#${w:-0})) && return 1
  done
  return 0
}

check_blob_csi() {
  local minimum subject image tag version
  minimum=$(field .aks.blobCsiMinVersion)
  minimum=${minimum#v}
  subject=kube-system/csi-blob-node
  [[ ${minimum} =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
    fail blob-csi "${subject}" "aks.blobCsiMinVersion '${minimum}' is not a version like 1.27.0"
    return 0
  }
  if ! capture kubectl --namespace kube-system get daemonset csi-blob-node --output json; then
    fail blob-csi "${subject}" "cannot read the DaemonSet (is the blob CSI driver enabled on the cluster?): ${err}"
    return 0
  fi
  image=$(jq -r '[.spec.template.spec.containers[]? | select(.name == "blob") | .image][0] // empty' <<<"${out}")
  [[ -n ${image} ]] || {
    fail blob-csi "${subject}" "no container named blob (containers: $(jq -r '[.spec.template.spec.containers[]?.name] | join(", ")' <<<"${out}"))"
    return 0
  }
  tag=${image%%@*}
  tag=${tag##*/}
  tag=${tag#*:}
  if [[ ${tag} =~ ^v?([0-9]+\.[0-9]+\.[0-9]+) ]]; then
    version=${BASH_REMATCH[1]}
  else
    fail blob-csi "${subject}" "cannot read a version from image ${image}"
    return 0
  fi
  if version_at_least "${version}" "${minimum}"; then
    pass blob-csi "${subject}" "blob v${version} >= v${minimum} (${image})"
  else
    fail blob-csi "${subject}" "blob v${version} < v${minimum} (${image}): mountWithWorkloadIdentityToken volumes stop authenticating when their first token expires; upgrade the cluster (az aks upgrade) to a version that ships v${minimum} or newer"
  fi
}

# --- 3. Batch quota -------------------------------------------------------------------------------------------------
# BatchAccount: dedicatedCoreQuotaPerVMFamilyEnforced true means both dedicatedCoreQuotaPerVMFamily[].{name,coreQuota}
# and dedicatedCoreQuota apply, false means only dedicatedCoreQuota does; none of them is returned in UserSubscription
# mode (Batch management REST API, BatchAccount). az prints the Python SDK's attribute names camel-cased
# (dedicated_core_quota_per_vm_family -> dedicatedCoreQuotaPerVmFamily), ARM JSON spells them ...PerVMFamily...: read
# either.
check_batch_quota() {
  local account group quota needed_total enforced total family needed have
  account=$(field .batch.accountName)
  group=$(field .batch.resourceGroup)
  if ! capture az batch account show --name "${account}" --resource-group "${group}" --subscription "${subscription}" --output json; then
    fail batch-quota "${account}" "cannot read the Batch account: ${err}"
    return 0
  fi
  quota=$(jq -c 'def pick($a; $b): if .[$a] != null then .[$a] else .[$b] end;
    {enforced: pick("dedicatedCoreQuotaPerVmFamilyEnforced"; "dedicatedCoreQuotaPerVMFamilyEnforced"),
     total: .dedicatedCoreQuota, lowPriority: .lowPriorityCoreQuota, pools: .poolQuota,
     families: (pick("dedicatedCoreQuotaPerVmFamily"; "dedicatedCoreQuotaPerVMFamily") // [])}' <<<"${out}")
  # TES creates one pool (and job) per VM size and checks the pool quota first (ga4gh-tes@6.0.0
  # src/TesApi.Web/BatchScheduler.BatchPools.cs:131-145); new accounts may start at 0 (Batch quotas and limits).
  local pools low_needed low_have
  pools=$(jq -r '.pools // 0' <<<"${quota}")
  if ((pools >= 1)); then
    pass batch-quota "${account}/pools" "pool quota ${pools}"
  else
    fail batch-quota "${account}/pools" "pool quota is 0: TES cannot create any pool; request a pool quota for ${account}"
  fi
  # Tasks marked preemptible (the chart's default runtime attribute) run on Spot nodes, counted in one total.
  low_needed=$(jq -r '.batch.lowPriorityCoresNeeded // 0' <<<"${outputs}")
  if ((low_needed > 0)); then
    low_have=$(jq -r '.lowPriority // 0' <<<"${quota}")
    if ((low_have >= low_needed)); then
      pass batch-quota "${account}/low-priority" "low-priority (Spot) core quota ${low_have} >= ${low_needed} cores needed"
    else
      fail batch-quota "${account}/low-priority" "low-priority (Spot) core quota ${low_have} < ${low_needed} cores needed: request an increase, or run tasks with preemptible: false"
    fi
  fi
  needed_total=$(jq '[.batch.dedicatedCoresNeeded[]] | add // 0' <<<"${outputs}")
  enforced=$(jq -r '.enforced' <<<"${quota}")
  total=$(jq -r '.total // empty' <<<"${quota}")
  [[ -n ${total} ]] || {
    fail batch-quota "${account}" "the account reports no dedicated core quota (UserSubscription pool allocation mode?); this stack expects BatchService mode"
    return 0
  }
  if [[ ${enforced} == true ]]; then
    while IFS=$'\x1f' read -r family needed; do
      have=$(jq -r --arg f "$(lower "${family}")" '[.families[] | select((.name // "" | ascii_downcase) == $f) | .coreQuota][0] // 0' <<<"${quota}")
      if ((have >= needed)); then
        pass batch-quota "${account}/${family}" "quota ${have} >= ${needed} cores needed"
      else
        fail batch-quota "${account}/${family}" "quota ${have} < ${needed} cores needed: request a ${family} quota increase for ${account}"
      fi
    done < <(rows '.batch.dedicatedCoresNeeded | to_entries[] | [.key, .value]')
  fi
  local scope="total"
  [[ ${enforced} == true ]] || scope="total (per-family quota not enforced)"
  if ((total >= needed_total)); then
    pass batch-quota "${account}" "dedicated core quota ${total} >= ${needed_total} cores needed, ${scope}"
  else
    fail batch-quota "${account}" "dedicated core quota ${total} < ${needed_total} cores needed, ${scope}: request a quota increase for ${account}"
  fi
}

# --- 4. private endpoints -------------------------------------------------------------------------------------------
# A connection the deploy identity may not approve on the target stays Pending (components/data_storage.py); az
# flattens `properties`, ARM nests it: read either.
check_private_endpoints() {
  local name id owner approved statuses
  [[ $(jq '(.privateEndpoints | length) + (.dataAccounts | length)' <<<"${outputs}") -gt 0 ]] ||
    skip private-endpoints "-" "no private endpoints declared"
  while IFS=$'\x1f' read -r name id owner; do
    if [[ -z ${id} ]]; then
      skip private-endpoints "${name}" "no endpoint of this stack (the account is reached through an existing one)"
      continue
    fi
    if ! capture az network private-endpoint show --ids "${id}" --output json; then
      fail private-endpoints "${name}" "cannot read ${id}: ${err}"
      continue
    fi
    IFS=$'\x1f' read -r approved statuses < <(jq -r '
      [(.privateLinkServiceConnections // []) + (.manualPrivateLinkServiceConnections // []) | .[]
        | {name: (.name // "?"),
           status: (.privateLinkServiceConnectionState.status // .properties.privateLinkServiceConnectionState.status // "unknown")}]
      | [(length > 0 and all(.[]; .status == "Approved")), (map("\(.name)=\(.status)") | join(", "))]
      | map(tostring) | join("\u001f")' <<<"${out}")
    if [[ -z ${statuses} ]]; then
      fail private-endpoints "${name}" "the endpoint has no private link service connections"
    elif [[ ${approved} == true ]]; then
      pass private-endpoints "${name}" "${statuses}"
    elif [[ ${owner} == data ]]; then
      fail private-endpoints "${name}" "${statuses}: ask the account owner to approve the connection (storage account > Networking > Private endpoint connections)"
    else
      fail private-endpoints "${name}" "${statuses}: approve it on the target resource (Private endpoint connections)"
    fi
  done < <(rows '(.privateEndpoints[] | [.name, .id, "stack"]), (.dataAccounts[] | [.name, .privateEndpointId, "data"])')
}

# --- 5. data accounts -----------------------------------------------------------------------------------------------
# Why anonymous access must be off: TES's runner probes a task input with an anonymous HEAD and signs a user-delegation
# SAS only when the answer is 401, 403 or 409 (microsoft/ga4gh-tes@6.0.0:src/Tes.Runner/Transfer/
# BlobApiHttpUtils.cs:185-205, called from src/Tes.Runner/Storage/ArmUrlTransformationStrategy.cs:71). A success
# means "public": the URL is used as it is (line 73-74), bypassing the workload identity; any other status fails the
# input. With allowBlobPublicAccess false, Azure answers every anonymous request 409 PublicAccessNotPermitted; unset
# (null) leaves it to each container, so only an explicit false passes.
# Roles (components/data_storage.py): Reader and Storage Blob Delegator on the account (ARM lookup, user-delegation
# key: components/contracts/tes_6_0_0.py), Storage Blob Data Reader/Contributor per container. A role at a parent
# scope counts (--include-inherited); Graph is not queried (--fill-principal-name false).
role_held() {
  # role_held <role list JSON> <principal id> <role definition id>...
  local assignments=$1 principal=$2
  shift 2
  jq -e --arg p "$(lower "${principal}")" --args '
    [.[] | select((.principalId // "" | ascii_downcase) == $p) | .roleDefinitionId // "" | split("/") | last]
    | any(.[]; IN($ARGS.positional[]))' "$@" <<<"${assignments}" >/dev/null
}

check_data_accounts() {
  local name id granted principal public scope container access role
  [[ $(jq '.dataAccounts | length' <<<"${outputs}") -gt 0 ]] || skip data-accounts "-" "no data accounts declared"
  while IFS=$'\x1f' read -r name id granted principal; do
    if capture az storage account show --ids "${id}" --output json; then
      public=$(jq -r '.allowBlobPublicAccess | tostring' <<<"${out}")
      case ${public} in
        false) pass data-accounts "${name}" "allowBlobPublicAccess is false" ;;
        true) fail data-accounts "${name}" "allowBlobPublicAccess is true: ask the account owner to disallow anonymous blob access" ;;
        *) fail data-accounts "${name}" "allowBlobPublicAccess is not set (containers may allow anonymous reads): ask the account owner to set it to false" ;;
      esac
    else
      fail data-accounts "${name}" "cannot read the account: ${err}"
    fi
    if [[ ${granted} == stack ]]; then
      skip data-accounts "${name}" "roles are granted by this stack (pulumi up created them)"
      continue
    fi
    if capture az role assignment list --scope "${id}" --include-inherited --fill-principal-name false --output json; then
      if role_held "${out}" "${principal}" "${ROLE_READER}" "${ROLE_CONTRIBUTOR}" "${ROLE_OWNER}"; then
        pass data-accounts "${name}" "Reader for ${principal}"
      else
        fail data-accounts "${name}" "no Reader (or Contributor/Owner) for ${principal} on the account: ask the account owner to grant it"
      fi
      if role_held "${out}" "${principal}" "${ROLE_BLOB_DELEGATOR}"; then
        pass data-accounts "${name}" "Storage Blob Delegator for ${principal}"
      else
        fail data-accounts "${name}" "no Storage Blob Delegator for ${principal} on the account: ask the account owner to grant it"
      fi
    else
      fail data-accounts "${name}" "cannot list role assignments on the account: ${err}"
    fi
    while IFS=$'\x1f' read -r container access; do
      scope="${id}/blobServices/default/containers/${container}"
      if ! capture az role assignment list --scope "${scope}" --include-inherited --fill-principal-name false --output json; then
        fail data-accounts "${name}/${container}" "cannot list role assignments: ${err}"
      elif [[ ${access} == readWrite ]] && role_held "${out}" "${principal}" "${ROLE_BLOB_CONTRIBUTOR}"; then
        pass data-accounts "${name}/${container}" "Storage Blob Data Contributor for ${principal}"
      elif [[ ${access} == read ]] && role_held "${out}" "${principal}" "${ROLE_BLOB_READER}" "${ROLE_BLOB_CONTRIBUTOR}"; then
        pass data-accounts "${name}/${container}" "Storage Blob Data Reader (or Contributor) for ${principal}"
      else
        role="Storage Blob Data Reader"
        [[ ${access} == read ]] || role="Storage Blob Data Contributor"
        fail data-accounts "${name}/${container}" "no ${role} for ${principal} on the container or above: ask the account owner to grant it"
      fi
    done < <(jq -r --arg id "${id}" '.dataAccounts[] | select(.id == $id) | .containers[] | [.name, .access] | join("\u001f")' <<<"${outputs}")
  done < <(rows '.dataAccounts[] | [.name, .id, .rolesGrantedBy, .principalId]')
}

# --- 6. private names, from inside the cluster ------------------------------------------------------------------------
# getent resolves through the pod's resolv.conf and nsswitch, as the JVM and .NET do. Cromwell 87's image is built
# FROM a Debian JRE base (broadinstitute/cromwell@87:project/Publishing.scala:72), where getent (libc-bin) is always
# present; nslookup/dig (dnsutils) are not installed, so there is no fallback: a probe without getent FAILs by name.
is_private_ipv4() {
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
  local a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
  ((a == 10)) || ((a == 172 && b >= 16 && b <= 31)) || ((a == 192 && b == 168))
}

check_private_names() {
  local namespace probe count name address
  namespace=$(field .aks.namespace)
  probe=$(field .aks.probeDeployment)
  count=$(jq '.privateNames | length' <<<"${outputs}")
  [[ ${count} -gt 0 ]] || skip private-names "-" "no private names declared"
  while IFS= read -r name; do
    if capture kubectl --namespace "${namespace}" exec "deploy/${probe}" -- getent hosts "${name}"; then
      address=$(awk 'NR == 1 { print $1 }' <<<"${out}")
      if is_private_ipv4 "${address}"; then
        pass private-names "${name}" "${address} from deploy/${probe}"
      else
        fail private-names "${name}" "${address:-nothing} from deploy/${probe}, not an RFC 1918 address: the privatelink zone is not linked to the VNet or has no record for the endpoint"
      fi
    elif [[ ${rc} -eq 126 || ${rc} -eq 127 || ${err} == *"executable file not found"* ]]; then
      fail private-names "${name}" "deploy/${probe} has no getent: set aks.probeDeployment to a deployment whose image has it"
    elif [[ ${rc} -eq 2 ]]; then
      fail private-names "${name}" "does not resolve from deploy/${probe}: the privatelink zone is not linked to the VNet or has no record"
    else
      fail private-names "${name}" "cannot run getent in ${namespace}/deploy/${probe}: ${err}"
    fi
  done < <(jq -r '.privateNames[]' <<<"${outputs}")
}

# --- 7. DNS zone links, for the Batch nodes ---------------------------------------------------------------------------
# Batch nodes run in the VNet and use its DNS: each privatelink zone must be linked to the VNet itself.
check_dns_links() {
  local vnet count name id sub group zone linked
  vnet=$(field .vnetId)
  count=$(jq '.dnsZones | length' <<<"${outputs}")
  [[ ${count} -gt 0 ]] || skip dns-links "-" "no DNS zones declared"
  while IFS=$'\x1f' read -r name id; do
    shopt -s nocasematch
    if [[ ${id} =~ ^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/privateDnsZones/([^/]+)$ ]]; then
      sub=${BASH_REMATCH[1]} group=${BASH_REMATCH[2]} zone=${BASH_REMATCH[3]}
      shopt -u nocasematch
    else
      shopt -u nocasematch
      fail dns-links "${name}" "'${id}' is not a private DNS zone id"
      continue
    fi
    if ! capture az network private-dns link vnet list --resource-group "${group}" --zone-name "${zone}" --subscription "${sub}" --output json; then
      fail dns-links "${name}" "cannot list the zone's virtual-network links: ${err}"
      continue
    fi
    linked=$(jq -r --arg v "$(lower "${vnet}")" '[.[] | select((.virtualNetwork.id // "" | ascii_downcase) == $v)][0]
      | if . == null then empty else "\(.name)=\(.virtualNetworkLinkState // .provisioningState // "unknown")" end' <<<"${out}")
    if [[ -z ${linked} ]]; then
      fail dns-links "${name}" "no virtual-network link to ${vnet}: Batch nodes cannot resolve its private names; link the zone to the VNet"
    elif [[ ${linked} == *=Completed || ${linked} == *=Succeeded ]]; then
      pass dns-links "${name}" "linked to the stack's VNet (${linked})"
    else
      fail dns-links "${name}" "the link to ${vnet} is not ready (${linked})"
    fi
  done < <(rows '.dnsZones[] | [.name, .id]')
}

# --- 8. application credentials (taskDatabase cosmosdb) ---------------------------------------------------------------
# The CoA 3.2 pods sign in as Entra applications with the client secret stored in Key Vault (configuration/tes32.py);
# the stack plans rotation from applicationCredentials.<workload>.secretExpiresOn and the Key Vault secret expires
# then. If Entra ID ends every secret of the application earlier, the pods lose sign-in before anyone planned to
# rotate. Graph returns passwordCredentials[].endDateTime (ISO 8601, UTC); reading them needs ownership of the
# application or Application.Read.All. Dates compare as YYYY-MM-DD text.
check_app_credentials() {
  local count workload client claimed latest today
  count=$(jq '.applications | length' <<<"${outputs}")
  [[ ${count} -gt 0 ]] || skip app-credentials "-" "no application credentials (the pods use workload identity)"
  today=$(date -u +%F)
  while IFS=$'\x1f' read -r workload client claimed; do
    if ! capture az ad app credential list --id "${client}" --output json; then
      fail app-credentials "${workload}" "cannot list the client secrets of application ${client} (needs ownership or Application.Read.All): ${err}"
      continue
    fi
    latest=$(jq -r '[.[] | .endDateTime // empty | .[0:10]] | max // empty' <<<"${out}")
    if [[ -z ${latest} ]]; then
      fail app-credentials "${workload}" "application ${client} has no client secret: create one, store it with pulumi config set --secret"
    elif [[ ${latest} < ${today} ]]; then
      fail app-credentials "${workload}" "every client secret of application ${client} has expired (the newest on ${latest}): rotate it"
    elif [[ ${latest} < ${claimed} ]]; then
      fail app-credentials "${workload}" "the newest client secret ends ${latest}, before secretExpiresOn ${claimed}: the pods lose sign-in first; set applicationCredentials.${workload}.secretExpiresOn to ${latest}"
    else
      pass app-credentials "${workload}" "a client secret of application ${client} is valid until ${latest} (the stack rotates by ${claimed})"
    fi
  done < <(rows '.applications[] | [.workload, .clientId, .secretExpiresOn]')
}

# --- 9. registry credential sets -------------------------------------------------------------------------------------
# A Docker Hub cache rule authenticates with a credential set whose identity reads two Key Vault secrets
# (configuration/upstreams.py). Whether the vault lets the registry in is not documented (docs/deploying.md): ACR
# reports it as authCredentials[].credentialHealth.statusCode, Healthy or Unhealthy with errorCode and errorMessage.
check_cache_credentials() {
  local registry count name health
  registry=$(field .registry.name)
  count=$(jq '.registry.credentialSets | length' <<<"${outputs}")
  [[ ${count} -gt 0 ]] || skip cache-credentials "${registry}" "no credential sets (no cache rule needs one)"
  while IFS=$'\x1f' read -r name; do
    if ! capture az acr credential-set show --registry "${registry}" --name "${name}" --output json; then
      fail cache-credentials "${name}" "cannot read credential set ${name} of ${registry}: ${err}"
      continue
    fi
    health=$(jq -r '[.authCredentials[]? | .credentialHealth // {} | "\(.statusCode // "unknown")\(if .errorMessage then ": " + .errorMessage else "" end)"] | if length == 0 then "no credentials" else join("; ") end' <<<"${out}")
    if [[ ${health} == Healthy ]]; then
      pass cache-credentials "${name}" "the registry reads its secrets (Healthy)"
    else
      fail cache-credentials "${name}" "${health}: the cache cannot pull from Docker Hub; check the secrets, the grants and that the vault admits the registry (docs/deploying.md)"
    fi
  done < <(rows '.registry.credentialSets[] | [.]')
}

# --- run ----------------------------------------------------------------------------------------------------------
if [[ ${needs_kubectl} == true && -z ${KUBECONFIG:-} ]]; then
  export KUBECONFIG="${tmpdir}/kubeconfig"
  (umask 077 && pulumi stack output kubeconfig --show-secrets --stack "${stack}" >"${KUBECONFIG}" 2>"${tmpdir}/stderr") ||
    die "cannot read output 'kubeconfig' of stack ${stack} (or set KUBECONFIG): $(head -n 3 "${tmpdir}/stderr" | tr '\n' ' ')"
fi

for check in ${selected}; do
  case ${check} in
    images) check_images ;;
    blob-csi) check_blob_csi ;;
    batch-quota) check_batch_quota ;;
    private-endpoints) check_private_endpoints ;;
    data-accounts) check_data_accounts ;;
    private-names) check_private_names ;;
    dns-links) check_dns_links ;;
    app-credentials) check_app_credentials ;;
    cache-credentials) check_cache_credentials ;;
  esac
done

echo "preflight ${stack}: ${passed} PASS, ${failed} FAIL, ${skipped} SKIP"
if [[ ${failed} -gt 0 ]]; then
  echo "failed checks: ${failed_checks}"
  exit 1
fi
