"""Where the Java servers' jars are (fetched from Maven Central by scripts/fetch-jars.sh)."""

from __future__ import annotations

import os
from pathlib import Path

from domainlm.paths import project_root


def jar_classpath(name: str, env: str, jar: str) -> str:
    """The classpath of `name`'s jars: `$env/libs`, else `.name/libs` in the checkout; a clear error,
    naming the script that fetches them, when `jar` is not there."""
    libs = Path(os.environ.get(env, project_root() / f".{name}")) / "libs"
    if not any(libs.glob(jar)):
        raise RuntimeError(
            f"no {name} jars in {libs}: run scripts/setup-{name}.sh (the README's commands do it)"
        )
    return f"{libs}/*"
