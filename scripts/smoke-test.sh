#!/usr/bin/env bash
# Runs the chart's helm test against a deployed stack: a hello-world WDL through Cromwell, TES and Batch, waited for
# up to the chart's smokeTest.timeoutSeconds. Needs pulumi (logged in to the stack's backend), helm 3, kubelogin and
# line of sight to the private API server (a runner inside the network), as `pulumi up` does.
#
#   scripts/smoke-test.sh <stack> [--timeout 45m] [--dry-run]
set -euo pipefail

usage() {
  echo "usage: $0 <stack> [--timeout <duration, e.g. 45m>] [--dry-run]" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
stack=$1
shift
timeout=45m
dry_run=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --timeout)
      [[ $# -ge 2 ]] || usage
      timeout=$2
      shift 2
      ;;
    --dry-run)
      dry_run=true
      shift
      ;;
    *) usage ;;
  esac
done
[[ ${stack} =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "smoke test: '${stack}' is not a stack name" >&2; exit 2; }
[[ ${timeout} =~ ^[0-9]+[smh]$ ]] || { echo "smoke test: --timeout '${timeout}' is not a duration like 45m" >&2; exit 2; }

# Release and namespace are fixed by components/workload.py.
release=coa
namespace=coa

if [[ ${dry_run} == true ]]; then
  echo "pulumi stack output kubeconfig --show-secrets --stack ${stack} > <private temp file>"
  echo "helm test ${release} --namespace ${namespace} --timeout ${timeout} --logs"
  exit 0
fi

for tool in pulumi helm kubelogin; do
  command -v "${tool}" >/dev/null || { echo "smoke test: ${tool} is not on PATH" >&2; exit 2; }
done

kubeconfig=$(mktemp)
trap 'rm -f "${kubeconfig}"' EXIT
chmod 600 "${kubeconfig}"
pulumi stack output kubeconfig --show-secrets --stack "${stack}" >"${kubeconfig}"
KUBECONFIG=${kubeconfig} helm test "${release}" --namespace "${namespace}" --timeout "${timeout}" --logs
