"""s3proxy (Apache-2.0) as a child process: a real S3-compatible server over a local directory, for the
tests of documents by object-storage reference and for local stacks. Its jars come from
scripts/setup-s3proxy.sh."""

from __future__ import annotations

import shutil
from pathlib import Path

from domainlm.childproc import DataDirServer, accepts_connections
from domainlm_chassis.jars import jar_classpath


class S3ProxyServer(DataDirServer):
    """`endpoint_url` is its address; it signs requests with `access_key`/`secret_key` (AWS v2 or v4)."""

    what = "s3proxy"

    def __init__(
        self, data_dir: Path | None = None, access_key: str = "domainlm", secret_key: str = "domainlm-secret"
    ):
        super().__init__(data_dir, "domainlm-s3-")
        self.access_key, self.secret_key = access_key, secret_key

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> S3ProxyServer:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("no java: run scripts/setup.sh (the JDK serves Kafka and s3proxy)")
        (self.data_dir / "blobs").mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "s3proxy.conf"
        conf.write_text(
            "s3proxy.authorization=aws-v2-or-v4\n"
            f"s3proxy.identity={self.access_key}\ns3proxy.credential={self.secret_key}\n"
            f"s3proxy.endpoint={self.endpoint_url}\n"
            "jclouds.provider=filesystem\n"
            f"jclouds.filesystem.basedir={self.data_dir / 'blobs'}\n"
        )
        self.spawn(
            [
                java,
                "-cp",
                jar_classpath("s3proxy", "DOMAINLM_S3PROXY_HOME", "s3proxy-*.jar"),
                "org.gaul.s3proxy.Main",
                "--properties",
                str(conf),
            ],
            timeout,
        )
        return self

    def ready(self) -> bool:
        return accepts_connections(self.port)
