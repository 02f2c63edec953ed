"""A throwaway PostgreSQL cluster for the tests: Debian's initdb and pg_ctl, a private directory,
a Unix socket only (no TCP port is opened), stopped and removed at the end.

PostgreSQL refuses to run as root, so when the tests run as root (as CI does) the cluster runs as
the `postgres` system user that Debian's package creates, through `runuser`. The cluster trusts
local connections: only its own directory (mode 0700) holds the socket, and it lives for one test
run. `.ci/system-packages` installs the `postgresql` package when it is missing.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "triage"


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL bin directory, else the one holding `initdb` on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """One cluster in a fresh temporary directory; `start()`, `create_database()`, `stop()`."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `bash .ci/system-packages` "
                               "(it installs Debian's postgresql package)")
        self.directory = Path(tempfile.mkdtemp(prefix="triage-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count(1)
        self.running = False

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._run_as, *args], capture_output=True, text=True,
                                cwd=self.directory, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}{log}")

    def start(self) -> "PostgresCluster":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                  "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        # listen_addresses='' : no TCP at all; the socket lives in our private directory.
        options = (f"-k {self.directory} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-w", "-t", "60", "-o", options, "start")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for one database of this cluster, over the socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.directory}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(dbname=database, user=SUPERUSER, host=str(self.directory),
                             autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self, template: str | None = None) -> str:
        """A new, empty database (or a copy of `template`); returns its SQLAlchemy URL."""
        name = f"test_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.running:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")
                self.running = False
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
