#!/usr/bin/env bash
# Installs the pinned Python dependencies a `pulumi preview/up --policy-pack policy` run needs.
# Neither the Pulumi CLI (for a local pack) nor pulumi/actions installs them:
#   - the program's virtualenv .venv (Pulumi.yaml: runtime.options.virtualenv) from requirements.txt,
#     or from requirements-dev.txt (tests, linters, offline preview) with --dev;
#   - the policy pack's requirements (policy/requirements.txt) into the virtualenv that
#     policy/PulumiPolicy.yaml names, or into the python3 on PATH when it names none, which is the
#     interpreter the Python analyzer falls back to.
# Usage: scripts/install-python-deps.sh [--dev]   (PYTHON overrides the base interpreter)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
program_requirements="${root}/requirements.txt"

case "${1:-}" in
  "") ;;
  --dev) program_requirements="${root}/requirements-dev.txt" ;;
  -h | --help)
    sed -n '2,9p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "install-python-deps.sh: unknown argument '$1' (expected --dev or nothing)" >&2
    exit 2
    ;;
esac

for file in "${program_requirements}" "${root}/policy/requirements.txt"; do
  if [[ ! -f ${file} ]]; then
    echo "install-python-deps.sh: ${file} not found" >&2
    exit 1
  fi
done

# constraints.txt pins every transitive package to what the tests ran with.
pip_install() {
  "$1" -m pip install --disable-pip-version-check --no-input -r "$2" -c "${root}/constraints.txt"
}

if [[ ! -x ${root}/.venv/bin/python ]]; then
  "${python}" -m venv "${root}/.venv"
fi
pip_install "${root}/.venv/bin/python" "${program_requirements}"

# PyYAML comes with the program's requirements, so the program venv can read PulumiPolicy.yaml.
pack_venv="$("${root}/.venv/bin/python" "${root}/scripts/policy_venv.py" "${root}/policy")"
if [[ -n ${pack_venv} ]]; then
  if [[ ! -x ${pack_venv}/bin/python ]]; then
    "${python}" -m venv "${pack_venv}"
  fi
  pip_install "${pack_venv}/bin/python" "${root}/policy/requirements.txt"
else
  pip_install "${python}" "${root}/policy/requirements.txt"
fi
