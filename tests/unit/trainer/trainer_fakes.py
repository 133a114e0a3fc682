"""Fake training stages for the local backend (small Python commands in place of `domainlm train`)."""

from __future__ import annotations

import sys
from pathlib import Path

from domainlm_trainer.local import Stage, model_dir_of
from domainlm_trainer.runs import RunConfig, RunSpec


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def fake_stages(behaviour: dict[str, str], model: Path | None = None):  # type: ignore[no-untyped-def]
    """A stages builder: each stage prints its name and runs `behaviour[stage]` (Python), the last one
    copying `model` to where the run's model belongs."""

    def stages(cli: str, spec: RunSpec, run_dir: Path) -> list[Stage]:
        out: list[Stage] = []
        names = ["sft", "dpo"] if spec.dpo_data else ["sft"]
        for name in names:
            code = f"print('stage {name} on', {spec.sft_data!r}, flush=True)\n{behaviour.get(name, '')}"
            if name == names[-1] and model is not None:
                code += (
                    f"\nimport shutil; shutil.copytree({str(model)!r}, {str(model_dir_of(run_dir, spec))!r})"
                )
            out.append({"name": name, "argv": py(code)})
        return out

    return stages


def spec(run_id: str = "run-a", dpo: str = "dpo.jsonl") -> RunSpec:
    return RunSpec(run_id, "sft.jsonl", dpo, RunConfig(base_model="base"), "local")
