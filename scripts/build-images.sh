#!/usr/bin/env bash
# Builds TES and TriggerService from the source commits pinned in images.lock.json, in our registry (ACR Tasks), the
# way CoA 6.0.0's deployer does (it builds both from the tagged source instead of pulling MCR), and records the digest
# of what it pushed. The lock change is then reviewed like any other: nothing runs that was not reviewed.
#
#   scripts/build-images.sh <registry name> [--agent-pool <pool> [--release-pool]] [--only <key>] [--print-digest]
#                           [--import-to <registry name> ...] [--dry-run]
#
# - The source is fetched at the pinned commit (tags can move), and the tag and every submodule are checked against
#   the lock before anything is built.
# - `az acr build` uploads the context (through ARM and a SAS URL, never the registry's own endpoint) and builds on
#   ACR Tasks. A registry with public network access disabled (ours) builds only on an agent pool inside the VNet
#   (--agent-pool), which needs outbound HTTPS to MCR (the .NET SDK and runtime images), NuGet and the Debian
#   mirrors. A pool scaled to zero between builds is scaled to one for the build and back to zero after it;
#   --release-pool scales it to zero after the build in any case (it is billed while it has instances).
# - --only <key> builds one lock entry; --print-digest prints only its digest on stdout (progress goes to stderr) and
#   leaves the lock alone: how `pulumi up` runs it (components/image_build.py), each stack recording its own build.
# - --import-to copies the built image by digest into another stack's registry (`az acr import` keeps the digest),
#   so dev and prod run the same bytes.
# Needs git, az (logged in), python3.
set -euo pipefail

usage() {
  echo "usage: $0 <registry name> [--agent-pool <pool> [--release-pool]] [--only <key>] [--print-digest] [--import-to <registry name> ...] [--dry-run]" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
registry=$1
shift
agent_pool=""
imports=()
dry_run=false
only=""
print_digest=false
release_pool=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --agent-pool)
      [[ $# -ge 2 ]] || usage
      agent_pool=$2
      shift 2
      ;;
    --only)
      [[ $# -ge 2 ]] || usage
      only=$2
      shift 2
      ;;
    --print-digest)
      print_digest=true
      shift
      ;;
    --release-pool)
      release_pool=true
      shift
      ;;
    --import-to)
      [[ $# -ge 2 ]] || usage
      imports+=("$2")
      shift 2
      ;;
    --dry-run)
      dry_run=true
      shift
      ;;
    *) usage ;;
  esac
done
name_pattern='^[A-Za-z0-9]{5,50}$'
[[ ${registry} =~ ${name_pattern} ]] || { echo "build-images: '${registry}' is not an ACR name (5-50 letters and digits)" >&2; exit 2; }
for target in "${imports[@]}"; do
  [[ ${target} =~ ${name_pattern} ]] || { echo "build-images: --import-to '${target}' is not an ACR name" >&2; exit 2; }
done
if [[ ${print_digest} == true && -z ${only} ]]; then
  echo "build-images: --print-digest prints one digest: name the image with --only <key>" >&2
  exit 2
fi
if [[ ${print_digest} == true ]]; then
  # stdout carries the digest alone; everything else the script and az print goes to stderr.
  exec 3>&1 1>&2
fi

repo_root=$(cd "$(dirname "$0")/.." && pwd)
lock=${IMAGES_LOCK:-${repo_root}/images.lock.json}

# One line per built image: key, build repository, tag, source URL, ref, commit, context, Dockerfile (relative to the
# context, as `az acr build --file` wants it), submodules as path=commit,...
builds=$(python3 - "${lock}" "${only}" <<'PY'
import json, sys
images = json.load(open(sys.argv[1]))["images"]
only = sys.argv[2]
if only and not (images.get(only) or {}).get("build"):
    sys.exit(f"build-images: --only {only}: no entry of the lock with a build block has that key")
for key, e in images.items():
    b = e.get("build")
    if not b or (only and key != only):
        continue
    prefix = b["context"].rstrip("/") + "/"
    if not b["dockerfile"].startswith(prefix):
        sys.exit(f"images.{key}.build.dockerfile {b['dockerfile']} is outside its context {b['context']}")
    subs = ",".join(f"{p}={c}" for p, c in b.get("submodules", {}).items()) or "-"
    print(key, b["repository"], e["tag"], b["source"], b["ref"], b["commit"], b["context"],
          b["dockerfile"][len(prefix):], subs)
PY
)
[[ -n ${builds} ]] || { echo "build-images: no entry of ${lock} has a build block" >&2; exit 2; }

run() {
  if [[ ${dry_run} == true ]]; then
    echo "$*"
  else
    "$@"
  fi
}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

# Fetch each pinned commit once, and refuse to build if the tag or a submodule no longer matches the lock.
checkout() {
  local source=$1 ref=$2 commit=$3 subs=$4 dir=$5
  if [[ -d ${dir} ]]; then return 0; fi
  if [[ ${dry_run} == true ]]; then
    echo "git clone ${source} @ ${commit} (tag ${ref}), submodules ${subs}"
    mkdir -p "${dir}"
    return 0
  fi
  local tagged
  # An annotated tag lists its object, then the commit it peels to (`^{}`); the commit is what counts.
  tagged=$(git ls-remote "${source}" "refs/tags/${ref}" | awk 'NR == 1 || /\^\{\}$/ {c = $1} END {print c}')
  [[ ${tagged} == "${commit}" ]] || { echo "build-images: tag ${ref} of ${source} is ${tagged:-missing}, the lock pins ${commit}" >&2; exit 1; }
  mkdir -p "${dir}"
  git init --quiet "${dir}"
  git -C "${dir}" remote add origin "${source}"
  git -C "${dir}" fetch --quiet --depth 1 origin "${commit}"
  git -C "${dir}" checkout --quiet FETCH_HEAD
  [[ $(git -C "${dir}" rev-parse HEAD) == "${commit}" ]] || { echo "build-images: fetched the wrong commit" >&2; exit 1; }
  git -C "${dir}" submodule update --quiet --init --depth 1
  if [[ ${subs} != "-" ]]; then
    local pair path want got
    IFS=',' read -ra pairs <<<"${subs}"
    for pair in "${pairs[@]}"; do
      path=${pair%%=*}
      want=${pair#*=}
      got=$(git -C "${dir}/${path}" rev-parse HEAD)
      [[ ${got} == "${want}" ]] || { echo "build-images: submodule ${path} is ${got}, the lock pins ${want}" >&2; exit 1; }
    done
  fi
}

# An agent pool scaled to zero between builds (it is billed while it has instances) gets one for this run.
if [[ ${release_pool} == true && -z ${agent_pool} ]]; then
  echo "build-images: --release-pool needs --agent-pool" >&2
  exit 2
fi
scaled_up=${release_pool}
if [[ -n ${agent_pool} && ${dry_run} == false ]]; then
  count=$(az acr agentpool show --registry "${registry}" --name "${agent_pool}" --query count --output tsv)
  if [[ ${count} == 0 ]]; then
    az acr agentpool update --registry "${registry}" --name "${agent_pool}" --count 1 --output none
    scaled_up=true
  fi
fi
scale_down() {
  if [[ ${scaled_up} == true ]]; then
    az acr agentpool update --registry "${registry}" --name "${agent_pool}" --count 0 --no-wait --output none || true
  fi
  rm -rf "${work}"
}
trap scale_down EXIT

today=$(date -u +%Y-%m-%d)
results=()
while read -r key repository tag source ref commit context dockerfile subs; do
  dir=${work}/$(printf '%s' "${source}@${commit}" | tr -c 'A-Za-z0-9' '_')
  checkout "${source}" "${ref}" "${commit}" "${subs}" "${dir}"
  image=${repository}:${tag}-${commit:0:7}
  pool=()
  [[ -z ${agent_pool} ]] || pool=(--agent-pool "${agent_pool}")
  run az acr build --registry "${registry}" "${pool[@]}" --platform linux --image "${image}" \
    --file "${dockerfile}" "${dir}/${context}"
  if [[ ${dry_run} == true ]]; then
    digest="sha256:<from the build>"
  else
    digest=$(az acr repository show --name "${registry}" --image "${image}" --query digest --output tsv)
    [[ ${digest} =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "build-images: ${registry} has no digest for ${image}" >&2; exit 1; }
  fi
  for target in "${imports[@]}"; do
    run az acr import --name "${target}" --source "${registry}.azurecr.io/${repository}@${digest}" --image "${image}"
  done
  echo "${key}: ${registry}.azurecr.io/${image}@${digest}"
  results+=("${key}=${digest}=az acr build on ${registry} from ${source}@${commit} (tag ${ref}) on ${today}")
done <<<"${builds}"

if [[ ${dry_run} == true ]]; then
  exit 0
fi
if [[ ${print_digest} == true ]]; then
  echo "${digest}" >&3
  exit 0
fi
python3 - "${lock}" "${results[@]}" <<'PY'
import json, sys
path, results = sys.argv[1], sys.argv[2:]
lock = json.load(open(path))
for result in results:
    key, digest, resolved = result.split("=", 2)
    lock["images"][key].update(source="build", digest=digest, resolved=resolved)
open(path, "w").write(json.dumps(lock, indent=2) + "\n")
PY
echo "Recorded in ${lock}: review and commit it (the chart then runs the built images by digest)."
