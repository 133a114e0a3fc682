"""The run report: the survival funnel per stage, with reasons, as Markdown plus a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from domainlm.files import write_text_atomic

UNITS = {"extract": "documents", "chunk": "documents → chunks", "generate": "chunks → items"}


def funnel_chart(summary: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    stages = list(summary)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(stages) + 1.2))
    y = range(len(stages))[::-1]
    ins = [summary[s]["in"] for s in stages]
    outs = [summary[s]["out"] for s in stages]
    rej = [sum(summary[s]["rejected"].values()) for s in stages]
    ax.barh(list(y), outs, color="#2e7d32", label="passed on")
    ax.barh(list(y), rej, left=outs, color="#c62828", alpha=0.8, label="rejected / held")
    for yi, n_in, n_out in zip(y, ins, outs, strict=True):
        ax.text(max(n_out, 0) + 0.5, yi, f"  in {n_in} → out {n_out}", va="center", fontsize=8)
    ax.set_yticks(list(y), [f"{s}\n({UNITS[s]})" if s in UNITS else s for s in stages], fontsize=8)
    ax.set_xlabel("records")
    ax.set_title("domainlm run: survival per stage")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(summary: dict[str, dict[str, Any]], out_dir: Path, extra: dict[str, Any]) -> Path:
    """Writes report.md (and funnel.png beside it); returns the Markdown path."""
    funnel_chart(summary, out_dir / "funnel.png")
    lines = ["# domainlm run report", ""]
    if note := extra.get("note"):
        lines += [f"> {note}", ""]
    lines += ["![survival funnel](funnel.png)", ""]
    lines += ["| stage | in | out | rejected or held |", "|---|---:|---:|---|"]
    for stage, row in summary.items():
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(row["rejected"].items(), key=lambda kv: -kv[1]))
        unit = f" ({UNITS[stage]})" if stage in UNITS else ""
        lines.append(f"| {stage}{unit} | {row['in']} | {row['out']} | {reasons or '-'} |")
    lines += ["", "Every rejected record is listed with its reason in `rejections/<stage>.jsonl`.", ""]
    if judge := extra.get("judge"):
        lines += [
            "## LLM judge",
            "",
            f"Asked about {judge['items']} item(s); doubted {judge['doubted']} (sent to a human under the "
            f"`auto` and `sample` policies). Cost: {judge['prompt_tokens']} prompt + "
            f"{judge['completion_tokens']} completion tokens ({judge['tokens_per_item']} per item), "
            f"{judge['call_seconds']} s summed over its calls.",
            "",
        ]
    lines += ["## Outputs", "", "```json", json.dumps(extra, ensure_ascii=False, indent=2), "```", ""]
    path = out_dir / "report.md"
    write_text_atomic(path, "\n".join(lines))
    return path
