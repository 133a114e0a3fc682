"""What the whole run leaves for people and automation: `summary.json` (stable keys, documented in the
README), loss curves, and a self-contained `report.html` (images inlined) beside `report.md`."""

from __future__ import annotations

import base64
import html
import resource
from pathlib import Path
from typing import Any

from domainlm.files import write_json_atomic, write_text_atomic
from domainlm.records import Sample

SUMMARY_VERSION = 1


def peak_memory_mib(served: dict[str, Any]) -> dict[str, float]:
    """Peak resident memory of the run's own process, and of the vLLM server it started to answer
    (its process tree, measured before it stopped). They do not overlap much in time: training ends
    before serving starts, so the larger one bounds what the machine needed."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"process": round(own, 1), "vllm_server": float(served.get("server_peak_mib", 0.0))}


def build_summary(run: Any, training: dict[str, Any] | None) -> dict[str, Any]:
    """The summary of one run: `run` is the data half's RunResult, `training` the loop's summary."""
    extra = run.extra
    training = training or {}
    published = training.get("published") or {
        "published": False,
        "reason": training.get("skipped")
        or ("training was not run (--until export)" if not training else ""),
    }
    return {
        "version": SUMMARY_VERSION,
        "counts": run.counts,
        "stages": {
            k: {"in": v["in"], "out": v["out"], "rejected": v["rejected"]} for k, v in run.funnel.items()
        },
        "source": extra.get("source"),
        "teachers": extra.get("teachers", {}),
        "coverage": extra.get("coverage", {}),
        "training": {k: training[k] for k in ("split", "base", "sft", "dpo", "skipped") if k in training},
        "eval": training.get("eval", {}),
        "published": {
            k: published.get(k) for k in ("published", "name", "version", "path", "reason") if k in published
        },
        "served": training.get("served", {}),
        "seconds": {**extra.get("stage_seconds", {}), **training.get("seconds", {})},
        "peak_memory_mib": peak_memory_mib(training.get("served", {})),
    }


def loss_chart(points: list[list[float]] | list[tuple[float, float]], title: str, path: Path) -> Path | None:
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=2, color="#1565c0")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def eval_rows(evals: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for model, m in evals.items():
        rows.append([model, m.get("questions", ""), *(f"{m[k]:.4f}" if k in m else "-" for k in
                                                      ("perplexity", "char_f1", "rouge_l"))])  # fmt: skip
    return rows


def examples(samples: list[Sample], n: int = 10) -> list[Sample]:
    """Up to n items, spread over kinds and sources, in document order."""
    by_kind: dict[str, list[Sample]] = {}
    for s in samples:
        by_kind.setdefault(f"{s.provenance.teacher_model}:{s.kind.value}", []).append(s)
    picked: list[Sample] = []
    while len(picked) < n and any(by_kind.values()):
        for group in by_kind.values():
            if group and len(picked) < n:
                picked.append(group.pop(len(group) // 2))
    return picked


def write_html(out: Path, summary: dict[str, Any], samples: list[Sample]) -> Path:
    """report.html: one file, images inlined, readable offline."""
    parts = ["<!doctype html><html lang='ko'><head><meta charset='utf-8'><title>domainlm run report</title>",
             "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;"
             "vertical-align:top}th{background:#f3f3f3}img{max-width:100%}.item{border-left:3px solid #1565c0;"
             "padding:.2em .8em;margin:.8em 0}.prov{color:#555;font-size:.85em}</style></head><body>",
             "<h1>domainlm run report</h1>"]  # fmt: skip
    pub = summary["published"]
    if pub.get("published"):
        parts.append(f"<p><strong>Published {html.escape(str(pub['name']))} {html.escape(str(pub['version']))}"
                     f"</strong> at <code>{html.escape(str(pub['path']))}</code></p>")  # fmt: skip
    else:
        parts.append(f"<p><strong>Nothing published:</strong> {html.escape(str(pub.get('reason', '')))}</p>")
    parts.append("<h2>Survival funnel</h2>")
    if (out / "funnel.png").exists():
        parts.append(_img(out / "funnel.png", "survival funnel"))
    parts.append(_table(["stage", "in", "out", "rejected or held"], [
        [k, v["in"], v["out"], ", ".join(f"{r}: {n}" for r, n in v["rejected"].items()) or "-"]
        for k, v in summary["stages"].items()]))  # fmt: skip
    parts.append("<h2>Items per source</h2>")
    kinds = sorted({k for row in summary["teachers"].values() for k in row if k != "note"})
    parts.append(
        _table(
            ["source", *kinds],
            [[t, *(row.get(k, 0) for k in kinds)] for t, row in summary["teachers"].items()],
        )
    )
    parts += [
        f"<p>{html.escape(t)}: {html.escape(row['note'])}</p>"
        for t, row in summary["teachers"].items()
        if row.get("note")
    ]
    cov = summary["coverage"]
    if cov:
        parts.append("<h2>Coverage</h2>")
        parts.append(f"<p>{cov.get('articles_with_items')} of {cov.get('articles')} articles have at least one kept "
                     f"item ({(cov.get('article_share') or 0) * 100:.1f}%); {cov.get('duplicate_questions')} duplicate "
                     f"questions; mean distractor overlap {cov.get('mean_distractor_overlap')}.</p>")  # fmt: skip
    parts.append("<h2>Training</h2>")
    training = summary["training"]
    if "skipped" in training:
        parts.append(f"<p>{html.escape(training['skipped'])}</p>")
    for method in ("sft", "dpo"):
        if (out / f"{method}-loss.png").exists():
            parts.append(_img(out / f"{method}-loss.png", f"{method.upper()} loss curve"))
    parts.append("<h2>Evaluation</h2>")
    ev = summary["eval"]
    if "skipped" in ev:
        parts.append(f"<p>{html.escape(ev['skipped'])}</p>")
    for key, title in (("held_out", "held-out questions"), ("eval_set", "external set")):
        if key in ev:
            parts.append(f"<h3>{title}</h3>")
            parts.append(
                _table(["model", "questions", "perplexity ↓", "char-F1", "ROUGE-L"], eval_rows(ev[key]))
            )
    if answers := summary.get("served", {}).get("answers"):
        parts.append("<h2>The served model answers</h2>")
        parts.append(
            _table(
                ["question", "expected", "served model"],
                [[a["question"], a["expected"], a["answer"]] for a in answers],
            )
        )
    parts.append("<h2>Ten items with their provenance</h2>")
    for s in examples(samples):
        p = s.provenance
        choices = "".join(
            f"<li>{'✔ ' if i == s.answer_index else ''}{html.escape(c)}</li>"
            for i, c in enumerate(s.choices or [])
        )
        parts.append(f"<div class='item'><p><strong>Q.</strong> {html.escape(s.instruction)}</p>"
                     + (f"<ol>{choices}</ol>" if choices else f"<p><strong>A.</strong> {html.escape(s.output)}</p>")
                     + f"<p class='prov'>{html.escape(p.source)} p.{','.join(map(str, p.pages))} · {html.escape(p.section)}"
                     f" · {html.escape(p.teacher_model)} ({html.escape(p.prompt_version)}) · {s.kind.value}</p></div>")  # fmt: skip
    parts.append("<h2>Time and memory</h2>")
    parts.append(_table(["stage", "seconds"], [[k, v] for k, v in summary["seconds"].items()]))
    mem = summary["peak_memory_mib"]
    parts.append(f"<p>Peak memory: {mem['process']:.0f} MiB in the run's process, {mem['vllm_server']:.0f} MiB "
                 "in the vLLM server it started.</p></body></html>")  # fmt: skip
    path = out / "report.html"
    write_text_atomic(path, "\n".join(parts))
    return path


def markdown_sections(summary: dict[str, Any]) -> list[str]:
    """The training half of report.md."""
    lines = ["## Training, evaluation and publication", ""]
    training, ev, pub = summary["training"], summary["eval"], summary["published"]
    if "skipped" in training:
        lines += [training["skipped"], ""]
    for method in ("sft", "dpo"):
        t = training.get(method, {})
        if t.get("steps"):
            lines += [f"- {method.upper()}: {t['rows']} rows, {t['steps']} steps in {t['seconds']} s, loss "
                      f"{t['first_loss']:.3f} → {t['last_loss']:.3f} (![{method} loss]({method}-loss.png))"]  # fmt: skip
        elif t.get("skipped"):
            lines += [f"- {method.upper()}: {t['skipped']}"]
    lines.append("")
    if "skipped" in ev:
        lines += [ev["skipped"], ""]
    for key in ("held_out", "eval_set"):
        if key in ev:
            lines += [
                f"| {key} | questions | perplexity ↓ | char-F1 | ROUGE-L |",
                "|---|---:|---:|---:|---:|",
            ]
            lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in eval_rows(ev[key])] + [""]
    lines += [f"Published: {pub.get('name')} {pub.get('version')} at `{pub.get('path')}`" if pub.get("published")
              else f"Nothing published: {pub.get('reason')}", ""]  # fmt: skip
    if answers := summary.get("served", {}).get("answers"):
        lines += ["| question | expected | served model |", "|---|---|---|"]
        lines += [
            f"| {a['question']} | {a['expected']} | {a['answer']} |".replace("\n", " ") for a in answers
        ] + [""]
    return lines


def write_all(out: Path, run: Any, training: dict[str, Any] | None, samples: list[Sample]) -> dict[str, Any]:
    """summary.json, the loss curves, report.html, and the training half appended to report.md."""
    summary = build_summary(run, training)
    for method in ("sft", "dpo"):
        points = summary["training"].get(method, {}).get("loss") or []
        loss_chart(points, f"{method.upper()} training loss", out / f"{method}-loss.png")
    write_json_atomic(out / "summary.json", summary)
    write_html(out, summary, samples)
    md = out / "report.md"
    write_text_atomic(md, md.read_text(encoding="utf-8") + "\n".join(markdown_sections(summary)) + "\n")
    return summary
