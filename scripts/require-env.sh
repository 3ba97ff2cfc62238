#!/usr/bin/env bash
# Fails with one GitHub error annotation per variable that is unset or empty. Prints names only,
# never values, so it is safe for any variable a workflow maps into the step's environment.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 VARIABLE_NAME [VARIABLE_NAME ...]" >&2
  exit 2
fi

missing=0
for name in "$@"; do
  if [[ ! ${name} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "::error::'${name}' is not a valid variable name" >&2
    exit 2
  fi
  if [[ -z ${!name:-} ]]; then
    echo "::error::repository variable ${name} is not set (see docs/delivery.md, "Repository variables")"
    missing=1
  fi
done
exit "${missing}"
