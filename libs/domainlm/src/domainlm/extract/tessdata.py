"""Tesseract language data, with the English word list taken out.

With `kor+eng`, tesseract reads each line with the Korean model and, where any word on it is
uncertain, again with the English one; it then keeps an English word over the Korean reading when
the English one is in the English dictionary and scores within a wide margin. On noisy scans that
replaced ordinary Korean words with dictionary "words" such as SHS, SOS, AS: CER 2.8% with the word
list, 1.55% without (bench/ocr_bench.py --ablation; 3.7% against 1.4% on another 8 pages). Without
its word list the English model still reads Latin text (codes such as C00-D48, SMS, URLs), which
the kor model cannot produce at all (its character set has no Latin letters), but no longer outvotes
Korean. The derived data lives in a cache directory, beside links to the system's other files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# Dictionary components, LSTM and legacy; the recogniser, unicharset and recoder stay.
_WORD_LISTS = ("lstm-word-dawg", "word-dawg", "freq-dawg", "bigram-dawg")


def system_tessdata() -> Path | None:
    """Where tesseract looks for language data by default."""
    if prefix := os.environ.get("TESSDATA_PREFIX"):
        return Path(prefix)
    try:
        done = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'languages in "([^"]+)"', done.stdout + done.stderr)
    return Path(found.group(1)) if found else None


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "domainlm"


def without_word_lists(plain: list[str], cache: Path | None = None) -> Path | None:
    """A tessdata directory in which the `plain` languages have no dictionaries, or None if it cannot
    be built (the caller then uses the system's data as it is)."""
    source = system_tessdata()
    if not plain or source is None or not shutil.which("combine_tessdata"):
        return None
    files = sorted(source.glob("*.traineddata"))
    if not all((source / f"{lang}.traineddata").is_file() for lang in plain):
        return None
    fingerprint = hashlib.sha256(
        repr(
            (str(source), sorted(plain), [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files])
        ).encode()
    ).hexdigest()[:16]
    root = cache or default_cache()
    target = root / f"tessdata-{fingerprint}"
    if (target / ".complete").exists():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tessdata-", dir=root) as tmp:
            staging = Path(tmp) / "data"
            staging.mkdir()
            for entry in source.iterdir():
                if entry.suffix == ".traineddata" and entry.stem in plain:
                    _strip(entry, staging / entry.name, Path(tmp))
                else:
                    (staging / entry.name).symlink_to(entry.resolve())
            (staging / ".complete").touch()
            try:
                staging.rename(target)
            except OSError:
                # Another process built it first; theirs is as good as ours.
                if not (target / ".complete").exists():
                    raise
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("could not build tesseract data without word lists (%s); using the system's", e)
        return None
    return target


def _strip(traineddata: Path, out: Path, work: Path) -> None:
    parts = work / "parts"
    parts.mkdir(exist_ok=True)
    prefix = f"{parts}/{traineddata.stem}."
    subprocess.run(["combine_tessdata", "-u", str(traineddata), prefix], capture_output=True, check=True)
    for component in _WORD_LISTS:
        Path(prefix + component).unlink(missing_ok=True)
    subprocess.run(["combine_tessdata", prefix], capture_output=True, check=True)
    Path(prefix + "traineddata").rename(out)
