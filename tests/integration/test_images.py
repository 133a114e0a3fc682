"""An image built and started for real (buildah, chroot isolation, from a debootstrapped Debian base):
scripts/images.sh checks the smallest service image end to end; the full set is `scripts/images.sh check`."""

from __future__ import annotations

import json
import subprocess

import pytest

from corpus import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_dedup_image_builds_starts_serving_as_non_root_and_writes_only_tmp() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "images.sh"), "check", "dedup"],
                          capture_output=True, text=True, timeout=2400)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| domainlm-dedup:")]
    assert len(rows) == 1, done.stdout
    _, image, size, serving, user, result, _ = (cell.strip() for cell in rows[0].split("|"))
    assert result == "ok" and user.startswith("10001") and float(serving) > 0 and size.endswith("B"), rows[0]
    # what the image carries: OCI labels, no training stack, the service as its entry point
    info = json.loads(subprocess.run(["buildah", "--storage-driver", "vfs", "inspect", "--type", "image",
                                      f"localhost/{image}"], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    config = info["OCIv1"]["config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "domainlm-dedup"
    assert labels["org.opencontainers.image.revision"] != "unknown"
    assert config["Entrypoint"] == ["/app/service"] and config["User"] == "10001:10001"
    probe = subprocess.run(["buildah", "--storage-driver", "vfs", "from", "--pull-never", f"localhost/{image}"],
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    try:
        torch = subprocess.run(["buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot", probe,
                                "python", "-c", "import torch"], capture_output=True, text=True)  # fmt: skip
        assert torch.returncode != 0 and "No module named 'torch'" in torch.stderr
    finally:
        subprocess.run(["buildah", "--storage-driver", "vfs", "rm", probe], capture_output=True)
