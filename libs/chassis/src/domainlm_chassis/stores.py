"""Redis and PostgreSQL servers (Debian's packages) as child processes, for tests and local stacks.

The dedup service keeps its shared index in Redis and the review service its store in Postgres; in a
deployment both are managed servers. Here each gets a fresh data directory and a free port.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from domainlm.childproc import DataDirServer, accepts_connections


class RedisServer(DataDirServer):
    """`url` is its address; data is appended to a file (appendfsync everysec), as in production."""

    what = "Redis"

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__(data_dir, "domainlm-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/setup.sh (Debian's redis-server)")
        self.spawn(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            timeout,
        )  # fmt: skip
        return self


class PostgresServer(DataDirServer):
    """A fresh cluster with a `domainlm` database; `url` is its SQLAlchemy URL (psycopg driver).

    PostgreSQL refuses to run as root, so under root the cluster belongs to Debian's `postgres` user.
    """

    what = "PostgreSQL"
    user = database = "domainlm"

    def __init__(self, data_dir: Path | None = None) -> None:
        super().__init__(data_dir, "domainlm-pg-")
        self.bin = _postgres_bin()
        self.cluster = self.data_dir / "cluster"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # The `postgres` user may not be able to reach a directory under root's (0700 temp dirs,
            # /root): the cluster then lives where it can, named after the data directory, so a stack
            # started again finds its data.
            self._as = ["runuser", "-u", "postgres", "--"]
            digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
            self.cluster = Path("/var/tmp/domainlm-postgres") / digest
            self.cluster.parent.mkdir(mode=0o755, exist_ok=True)
            owner = pwd.getpwnam("postgres").pw_uid
            self.cluster.mkdir(mode=0o700, exist_ok=True)
            os.chown(self.cluster, owner, -1)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        cluster = self.cluster
        if not (cluster / "PG_VERSION").exists():
            self._run([f"{self.bin}/initdb", "-D", str(cluster), "-U", self.user, "--auth=trust",
                       "--encoding=UTF8", "--locale=C.UTF-8"])  # fmt: skip
        self.spawn(
            [*self._as, f"{self.bin}/postgres", "-D", str(cluster), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={cluster}",
             "-c", "fsync=off" if self._tmp else "fsync=on"],
            timeout,
        )  # fmt: skip
        created = self._run(
            [f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database],
            check=False,
        )
        if created.returncode and b"already exists" not in created.stderr:
            raise RuntimeError(f"createdb failed: {created.stderr.decode(errors='replace')}")
        return self

    def ready(self) -> bool:
        if not accepts_connections(self.port):
            return False
        probe = [f"{self.bin}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, capture_output=True).returncode == 0

    def stop(self) -> None:
        super().stop()
        if self._tmp is not None and self._as:  # a throwaway server's cluster goes with it
            shutil.rmtree(self.cluster, ignore_errors=True)

    def _run(self, command: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self._as, *command], capture_output=True, check=check, timeout=120)


def _postgres_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (Debian's postgresql)")
    return str(Path(found[-1]).parent)  # the newest installed major version
