"""Survival accounting: every record a stage sees is either passed on or rejected with a reason."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import IO, Any

from domainlm.files import write_json_atomic
from domainlm.records import Rejection


class Funnel:
    """Counts what enters and leaves each stage, and writes every rejection to an error report.

    With a `report_dir`, rejections of stage S go to `report_dir/S.jsonl`, which is started afresh the
    first time S rejects something in this process (a resumed stage replays its rejections). Thread-safe,
    because generation runs many requests at once.
    """

    def __init__(self, report_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        self.passed: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = defaultdict(Counter)
        self.report_dir = report_dir
        self._files: dict[str, IO[str]] = {}

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
            if self.report_dir is not None:
                f = self._files.get(stage)
                if f is None:
                    self.report_dir.mkdir(parents=True, exist_ok=True)
                    f = self._files[stage] = (self.report_dir / f"{stage}.jsonl").open("w", encoding="utf-8")
                f.write(rejection.model_dump_json() + "\n")
                f.flush()
        return rejection

    def rejected(self, stage: str) -> int:
        return sum(self.reasons[stage].values())

    def stage_summary(self, stage: str) -> dict[str, Any]:
        return {"in": self.seen[stage], "out": self.passed[stage], "rejected": dict(self.reasons[stage])}

    def restore(self, stage: str, summary: dict[str, Any]) -> None:
        """Takes back the counts of a stage finished in an earlier run (its report file is kept)."""
        with self._lock:
            self.seen[stage] = summary["in"]
            self.passed[stage] = summary["out"]
            self.reasons[stage] = Counter(summary["rejected"])

    def summary(self) -> dict[str, dict[str, Any]]:
        stages = list(dict.fromkeys([*self.seen, *self.passed, *self.reasons]))
        return {s: self.stage_summary(s) for s in stages}

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def dump(self, path: Path) -> None:
        write_json_atomic(path, self.summary())
