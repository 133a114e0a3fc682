"""A labelled set of right and wrong answers, built from a document's own sentences.

Correct items restate a sentence of a chunk (verbatim, attributed to its article, after a yes/no reply,
or with the subject dropped), list answers name every item of a list, and multiple-choice items have
false distractors. Each corruption family then changes one correct item the way teachers go wrong on
약관: a flipped negation, a swapped number or unit, a wrong article, a dropped list item, an added
condition, the neighbouring clause's answer, a distractor that is in fact true. The evidence is always
the clause the question is about, as a teacher quotes it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from domainlm.checks.articles import article_refs
from domainlm.checks.lists import list_blocks
from domainlm.checks.polarity import sentences
from domainlm.checks.quantities import QUANTITY
from domainlm.checks.support import ItemChecks
from domainlm.records import Chunk
from domainlm.textsim import jaccard

FAMILIES = (
    "negation",
    "number",
    "unit",
    "article",
    "dropped-item",
    "added-condition",
    "neighbour-clause",
    "true-distractor",
)


@dataclass
class LabelledItem:
    family: str  # "correct" for a right answer, else the corruption family
    kind: str  # qa | mcq
    question: str
    answer: str
    evidence: str
    chunk: str
    section: str
    doc: str
    choices: list[str] | None = None
    answer_index: int | None = None

    @property
    def corrupted(self) -> bool:
        return self.family != "correct"

    def row(self) -> dict[str, object]:
        """The `domainlm check` input row for this item."""
        return {k: v for k, v in asdict(self).items() if v is not None}


# Final predicates and their opposite, tried in order on the last match in a sentence.
_FLIPS = [
    (r"하여야 합니다", "하지 않아도 됩니다"),
    (r"해야 합니다", "하지 않아도 됩니다"),
    (r"하지 않습니다", "합니다"),
    (r"하지 아니합니다", "합니다"),
    (r"되지 않습니다", "됩니다"),
    (r"할 수 없습니다", "할 수 있습니다"),
    (r"할 수 있습니다", "할 수 없습니다"),
    (r"없습니다", "있습니다"),
    (r"있습니다", "없습니다"),
    (r"제외합니다", "포함합니다"),
    (r"합니다", "하지 않습니다"),
    (r"됩니다", "되지 않습니다"),
]
_REWORDINGS = [
    ("보험회사는", "회사는"),
    ("경우에는", "때에는"),
    ("지급합니다", "지급해 드립니다"),
    ("보상합니다", "보상해 드립니다"),
    ("않습니다", "아니합니다"),
    ("하여야 합니다", "해야 합니다"),
    ("말합니다", "뜻합니다"),
]
_UNIT_SWAP = {
    "일": "개월",
    "개월": "년",
    "년": "개월",
    "세": "개월",
    "%": "원",
    "원": "%",
    "회": "일",
    "시간": "일",
}
_CONDITION = re.compile(r"[가-힣][가-힣 ]{5,30}경우")
_LEAD_WORDS = re.compile(r"^(?:\d{1,2}\.|[가-하]\.|[①-⑳]|\d{1,2}\))\s*")


def _flip(sentence: str) -> str | None:
    for pattern, repl in _FLIPS:
        hits = list(re.finditer(pattern, sentence))
        if hits:
            m = hits[-1]
            return sentence[: m.start()] + repl + sentence[m.end() :]
    return None


def _question(section: str, sentence: str) -> str:
    head = " ".join(_LEAD_WORDS.sub("", sentence).split()[:2])
    return f"{section}에 따르면 {head}에 관해 어떻게 정하고 있나요?"


def _restate(rng: random.Random, section: str, sentence: str) -> str:
    body = _LEAD_WORDS.sub("", sentence)
    way = rng.randrange(5)
    if way == 4:  # the rewording teachers do: shorter names, 때 for 경우, a softer ending
        for a, b in _REWORDINGS:
            body = body.replace(a, b)
        return body
    if way == 1:
        return (
            f"{section.split(' > ')[-1].split('(')[0]}에 따르면, {body}"  # the article, as a teacher names it
        )
    if way == 2:
        negative = bool(re.search(r"(않|아니하|없)습니다\.?$", body))
        return f"{'아니요' if negative else '네'}, {body}"
    if way == 3:
        return re.sub(r"^(회사는|다만,?|그러나)\s*", "", body)
    return body


def build(chunks: Iterable[Chunk], seed: int = 0, per_chunk: int = 2) -> list[LabelledItem]:
    """Correct items and their corruptions from chunks with a section and real sentences."""
    rng = random.Random(seed)
    chunks = [c for c in chunks if c.section]
    doc_articles: dict[str, list[str]] = {}
    conditions: dict[str, list[str]] = {}
    for c in chunks:
        doc_articles.setdefault(c.doc_id, []).extend(sorted(article_refs(c.section)))
        conditions.setdefault(c.doc_id, []).extend(m.group(0).strip() for m in _CONDITION.finditer(c.text))
    items: list[LabelledItem] = []
    for c in chunks:
        items += _from_chunk(rng, c, per_chunk, doc_articles[c.doc_id], conditions[c.doc_id])
    return items


def _item(
    chunk: Chunk,
    family: str,
    question: str,
    answer: str,
    evidence: str,
    choices: list[str] | None = None,
    answer_index: int | None = None,
) -> LabelledItem:
    kind = "qa" if choices is None else "mcq"
    return LabelledItem(
        family,
        kind,
        question,
        answer,
        evidence,
        chunk.text,
        chunk.section,
        chunk.doc_id,
        choices,
        answer_index,
    )


def _usable(sentence: str) -> bool:
    return 15 <= len(sentence) <= 160 and sentence.endswith(("다.", "다")) and "…" not in sentence


def _from_chunk(
    rng: random.Random, chunk: Chunk, per_chunk: int, articles: list[str], conditions: list[str]
) -> Iterator[LabelledItem]:
    sents = [s for s in sentences(chunk.text) if _usable(s)]
    picked = rng.sample(range(len(sents)), min(per_chunk, len(sents)))

    for k in picked:
        s = sents[k]
        q = _question(chunk.section, s)
        yield _item(chunk, "correct", q, _restate(rng, chunk.section, s), s)
        if (flipped := _flip(_LEAD_WORDS.sub("", s))) is not None:
            yield _item(chunk, "negation", q, ("네, " if rng.random() < 0.3 else "") + flipped, s)
        if (m := rng.choice(list(QUANTITY.finditer(s)) or [None])) is not None:
            value = m.group(1)
            other = str(
                rng.choice([v for v in (1, 2, 3, 5, 7, 10, 14, 15, 30, 60, 90, 180, 365) if str(v) != value])
            )
            yield _item(chunk, "number", q, s[: m.start(1)] + other + s[m.end(1) :], s)
            unit = _UNIT_SWAP.get(m.group(2))
            if unit:
                yield _item(chunk, "unit", q, s[: m.start(2)] + unit + s[m.end(2) :], s)
        foreign = [a for a in articles if a not in article_refs(chunk.text) | article_refs(chunk.section)]
        if foreign:
            wrong = rng.choice(foreign).replace("-", "조의")
            wrong = f"제{wrong}" + ("" if "조의" in wrong else "조")
            refs = list(re.finditer(r"제\s*\d+\s*조(?:의\s*\d+)?", s))
            answer = (
                s[: refs[0].start()] + wrong + s[refs[0].end() :]
                if refs
                else f"{wrong}에 따라 {_LEAD_WORDS.sub('', s)}"
            )
            yield _item(chunk, "article", q, answer, s)
        others = [c for c in conditions if c not in s]
        if others:
            cond = rng.choice(others)
            yield _item(chunk, "added-condition", q, f"{cond}에 한하여 {_LEAD_WORDS.sub('', s)}", s)
        neighbours = [t for t in sents if t != s and jaccard(t, s) < 0.4]
        if neighbours:
            yield _item(chunk, "neighbour-clause", q, _LEAD_WORDS.sub("", rng.choice(neighbours)), s)
    yield from _lists(rng, chunk)
    yield from _mcqs(rng, chunk, sents)


def _lists(rng: random.Random, chunk: Chunk) -> Iterator[LabelledItem]:
    for block in list_blocks(chunk.text, paragraphs=False)[:1]:  # ①② are 항, not list items
        heads = [" ".join(re.split(r"[.:(]|다만", b)[0].split()) for b in block]
        if not 3 <= len(heads) <= 8 or not all(4 <= len(h) <= 40 for h in heads):
            continue  # paragraphs (①②), not a list of named items
        named = re.search(r"\(([^()]+)\)?\s*$", chunk.section.split(" > ")[-1])
        topic = named.group(1) if named else "해당 사항"
        q = f"{chunk.section}에서 {topic}을(를) 모두 알려 주세요."
        start, end = chunk.text.find(block[0][:10]), chunk.text.find(block[-1][:10])
        if start < 0 or end < 0 or end + len(block[-1]) - start > 600:
            continue
        evidence = chunk.text[max(0, start - 3) : end + len(block[-1])]
        # Listed as the source lists them (what a teacher and the structure generator write); the
        # corrupted copy drops one item and numbers the rest again.
        items = [" ".join(b.split()) for b in block]
        yield _item(chunk, "correct", q, _numbered(items), evidence)
        drop = rng.randrange(len(items))
        yield _item(
            chunk, "dropped-item", q, _numbered([h for n, h in enumerate(items) if n != drop]), evidence
        )


def _numbered(items: list[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))


def _mcqs(rng: random.Random, chunk: Chunk, sents: list[str]) -> Iterator[LabelledItem]:
    flips = [(s, f) for s in sents if len(s) <= 80 and (f := _flip(_LEAD_WORDS.sub("", s)))]
    if len(flips) < 4:
        return
    chosen = rng.sample(flips, 4)
    truth, falses = _LEAD_WORDS.sub("", chosen[0][0]), [f for _, f in chosen[1:]]
    q = f"{chunk.section}에 관한 설명으로 옳은 것은?"
    choices = [truth, *falses]
    rng.shuffle(choices)
    yield _item(chunk, "correct", q, truth, chosen[0][0], choices=choices, answer_index=choices.index(truth))
    # One distractor replaced by another true sentence: the item has two right answers.
    true_other = _LEAD_WORDS.sub("", chosen[1][0])
    bad = [true_other if c == falses[0] else c for c in choices]
    yield _item(chunk, "true-distractor", q, truth, chosen[0][0], choices=bad, answer_index=bad.index(truth))


def rejected(checker: ItemChecks, it: LabelledItem) -> bool:
    """Whether `checker` rejects the item."""
    if it.kind == "mcq":
        assert it.choices is not None and it.answer_index is not None
        verdict = checker.check_mcq(
            it.question, it.choices, it.answer_index, it.evidence, it.chunk, it.section
        )
    else:
        verdict = checker.check_answer(it.question, it.answer, it.evidence, it.chunk, it.section)
    return not verdict.ok


def rejection_rates(checker: ItemChecks, items: Iterable[LabelledItem]) -> dict[str, tuple[int, float]]:
    """Per family (and "correct"): items and the share rejected (caught, or for "correct", false rejections)."""
    seen: dict[str, list[bool]] = {}
    for it in items:
        seen.setdefault(it.family, []).append(rejected(checker, it))
    return {family: (len(v), sum(v) / len(v)) for family, v in seen.items()}
