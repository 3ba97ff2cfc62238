"""The db-init hook's own script and SQL, run against a real PostgreSQL server: login slots, one owner, and a rotation
that never locks out the pods still running.

The server is a throwaway cluster on loopback (PostgreSQL 15 from the machine's packages; Azure runs 16). The admin is
a CREATEROLE non-superuser that owns the databases, as on Azure Database for PostgreSQL flexible server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from render import load_values, render_chart

# Debian installs each major version under /usr/lib/postgresql/<major>/bin (newest first); PATH covers other systems.
BIN_DIRS = [
    *sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True),
    Path("/usr/local/bin"),
]
ADMIN, ADMIN_PASSWORD = "coa_admin", "admin-Secret-1"


def _binary(name: str) -> str:
    for directory in BIN_DIRS:
        if (directory / name).is_file():
            return str(directory / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install the Debian package postgresql (.ci/run does)")
    return found


def _as_postgres(*command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    # initdb and postgres refuse to run as root.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="coa-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _as_postgres(_binary("initdb"), "-D", str(data), "-A", "scram-sha-256", "--auth-local=trust", "-U", "postgres")
    _as_postgres(
        _binary("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start",
    )  # fmt: skip
    try:
        setup = (
            f"CREATE ROLE {ADMIN} LOGIN CREATEROLE PASSWORD '{ADMIN_PASSWORD}';"
            f"CREATE DATABASE cromwell_db OWNER {ADMIN}; CREATE DATABASE tes_db OWNER {ADMIN};"
        )
        for statement in setup.split(";"):
            if statement:
                _as_postgres(_binary("psql"), "-h", str(root), "-p", str(port), "-U", "postgres", "-c", statement)
        yield port
    finally:
        _as_postgres(_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered run.sh and create-user.sql, with the pod's mount paths pointed at a local folder."""
    root = tmp_path_factory.mktemp("hook")
    (scripts,) = [
        o
        for o in render_chart(load_values("values-dev"))
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "db-init-scripts"
    ]
    (root / "secrets").mkdir()
    for name, text in scripts["data"].items():
        text = text.replace("/mnt/secrets-store/", f"{root}/secrets/").replace("/scripts/", f"{root}/")
        (root / name).write_text(text)
    return root


def run_hook(hook: Path, port: int, passwords: dict[str, str]) -> None:
    for name, value in {"db-admin-password": ADMIN_PASSWORD, **passwords}.items():
        (hook / "secrets" / name).write_text(value)
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": ADMIN, "PGSSLMODE": "disable",
           "PATH": f"{Path(_binary('psql')).parent}:{os.environ['PATH']}"}  # fmt: skip
    result = subprocess.run(["/bin/sh", str(hook / "run.sh")], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def sql(port: int, user: str, password: str, statement: str, database: str = "cromwell_db") -> str:
    env = {**os.environ, "PGPASSWORD": password, "PGSSLMODE": "disable"}
    result = subprocess.run(
        [_binary("psql"), "-X", "-qtA", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", database,
         "-v", "ON_ERROR_STOP=1", "-c", statement],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode:
        raise PermissionError(result.stderr.strip())
    return result.stdout.strip()


SLOTS_1 = {"cromwell-db-password": "crom-A-1", "cromwell-db-password-b": "crom-B-1",
           "tes-db-password": "tes-A-1", "tes-db-password-b": "tes-B-1"}  # fmt: skip


def test_a_rotation_never_locks_out_the_running_pods(server: int, hook: Path) -> None:
    run_hook(hook, server, SLOTS_1)
    # Period n: the pods log in as slot a; Liquibase creates tables, which belong to the owner role.
    sql(server, "cromwell_a", "crom-A-1", "CREATE TABLE workflow (id int); INSERT INTO workflow VALUES (1)")
    assert sql(server, "cromwell_a", "crom-A-1", "SELECT tableowner FROM pg_tables WHERE tablename = 'workflow'") == (
        "cromwell"
    )
    # Period n+1: only slot b gets a new password; the hook runs before the new pods start.
    rotated = {**SLOTS_1, "cromwell-db-password-b": "crom-B-2", "tes-db-password-b": "tes-B-2"}
    run_hook(hook, server, rotated)
    # The old pods (slot a) keep working while the rollout is under way...
    assert (
        sql(server, "cromwell_a", "crom-A-1", "INSERT INTO workflow VALUES (2); SELECT count(*) FROM workflow") == "2"
    )
    # ...and the new pods (slot b) own and migrate the same tables.
    sql(server, "cromwell_b", "crom-B-2", "ALTER TABLE workflow ADD COLUMN status text; CREATE TABLE job (id int)")
    owners = sql(
        server,
        "cromwell_b",
        "crom-B-2",
        "SELECT string_agg(tableowner, ',') FROM pg_tables WHERE schemaname = 'public'",
    )
    assert owners == "cromwell,cromwell"
    with pytest.raises(PermissionError, match="password authentication failed"):
        sql(server, "cromwell_b", "crom-B-1", "SELECT 1")
    assert sql(server, "tes_b", "tes-B-2", "SELECT current_user", database="tes_db") == "tes"


def test_the_owner_cannot_log_in_and_slots_stay_in_their_database(server: int, hook: Path) -> None:
    run_hook(hook, server, SLOTS_1)
    can_login = "SELECT string_agg(rolname || '=' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('cromwell', 'tes')"
    assert sql(server, ADMIN, ADMIN_PASSWORD, can_login) == "cromwell=false,tes=false"
    with pytest.raises(PermissionError, match="permission denied for database"):
        sql(server, "tes_a", "tes-A-1", "SELECT 1", database="cromwell_db")
    # No slot can create roles or databases, whatever the owner holds.
    flags = sql(
        server,
        "cromwell_a",
        "crom-A-1",
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = session_user",
    )
    assert flags == "f"
