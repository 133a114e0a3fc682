"""Survival accounting: every record a stage sees is either passed on or rejected with a reason."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import IO

from domainlm.records import Rejection


class Funnel:
    """Counts what enters and leaves each stage, and writes every rejection to an error report.

    Thread-safe, because generation runs many requests at once.
    """

    def __init__(self, report_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        self.passed: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = defaultdict(Counter)
        self._report: IO[str] | None = None
        if report_path is not None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            self._report = report_path.open("a", encoding="utf-8")

    def saw(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self.seen[stage] += n

    def passed_on(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self.passed[stage] += n

    def reject(self, stage: str, reason: str, record_id: str, detail: str = "") -> Rejection:
        rejection = Rejection(stage=stage, reason=reason, record_id=record_id, detail=detail[:2000])
        with self._lock:
            self.reasons[stage][reason] += 1
            if self._report is not None:
                self._report.write(rejection.model_dump_json() + "\n")
                self._report.flush()
        return rejection

    def rejected(self, stage: str) -> int:
        return sum(self.reasons[stage].values())

    def summary(self) -> dict[str, dict[str, object]]:
        stages = list(dict.fromkeys([*self.seen, *self.passed, *self.reasons]))
        return {
            s: {"in": self.seen[s], "out": self.passed[s], "rejected": dict(self.reasons[s])} for s in stages
        }

    def close(self) -> None:
        if self._report is not None:
            self._report.close()
            self._report = None

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.summary(), ensure_ascii=False, indent=2), encoding="utf-8")
