"""Versioned prompt templates (`NAME-vN.txt`), kept as files so reviewers can diff them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

_DIR = Path(__file__).parent


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}-{self.version}"

    def messages(self, **values: object) -> list[dict[str, str]]:
        """Chat messages with `$placeholders` filled; a missing value is an error, not a blank."""
        return [
            {"role": "system", "content": Template(self.system).substitute(values)},
            {"role": "user", "content": Template(self.user).substitute(values)},
        ]

    def fixed_lines(self) -> list[str]:
        """Lines of the template that carry no placeholder: a model echoing one leaks the template."""
        lines = [*self.system.splitlines(), *self.user.splitlines()]
        return [ln.strip() for ln in lines if len(ln.strip()) >= 12 and "$" not in ln]


def load_prompt(name: str, version: str | None = None, directory: Path = _DIR) -> PromptTemplate:
    """Loads `NAME-vN.txt`; without a version, the highest one present."""
    if version is None:
        found = sorted(
            (int(m.group(1)), p)
            for p in directory.glob(f"{name}-v*.txt")
            if (m := re.fullmatch(rf"{re.escape(name)}-v(\d+)\.txt", p.name))
        )
        if not found:
            raise FileNotFoundError(f"no prompt template {name}-v*.txt in {directory}")
        version = f"v{found[-1][0]}"
    text = (directory / f"{name}-{version}.txt").read_text(encoding="utf-8")
    parts = dict(re.findall(r"^### (system|user)\n(.*?)(?=^### |\Z)", text, flags=re.S | re.M))
    return PromptTemplate(name, version, parts["system"].strip(), parts["user"].strip())
