"""The structure-grounded generator: QA pairs and multiple-choice items written from a document's own
articles and words, with no LLM.

It is the embedded default when no teacher is configured, and may run beside an LLM teacher (every
item names its source in `provenance.teacher_model`). Its items go through the same checks, review,
dedup and pairs stages as any teacher's. The question templates are a versioned file
(`prompts/structure-vN.txt`), like the teachers' prompts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from string import Template
from typing import Any

from pydantic import BaseModel, Field

from domainlm.generation.clauses import (
    QUANTITY,
    Article,
    articles_of,
    as_question,
    definitions_of,
    list_blocks_of,
    sentences,
)
from domainlm.paths import package_data
from domainlm.records import Chunk, content_id
from domainlm.textsim import containment, jaccard, squash

STRUCTURE_TEACHER = "structure"
_CONNECTIVE = re.compile(r"^(?:다만|또한|그러나|이때|이 경우|이 경우에)\s*,?\s*")
_TAIL = re.compile(r"^\s*(이내|이상|이하|미만|초과|한도|상당액|간|전|후|동안|까지)")


class StructureSettings(BaseModel):
    template_version: str | None = Field(None, description="pin structure-vN.txt; default the newest")
    max_qa_per_article: int = Field(6, ge=0, description="QA pairs per article piece, at most")
    mcq_per_article: int = Field(1, ge=0, le=3)
    choices: int = Field(4, ge=2, le=6)
    max_distractor_overlap: float = Field(
        0.3, description="character-bigram Jaccard a distractor may share with the correct answer"
    )
    max_answer_chars: int = Field(600, description="longer list or summary answers are not asked")


def load_templates(version: str | None = None) -> tuple[str, dict[str, Template]]:
    """(`structure-vN`, kind → template) from the package's prompts directory."""
    directory = package_data("prompts")
    if version is None:
        found = sorted(int(m.group(1)) for p in directory.glob("structure-v*.txt")
                       if (m := re.fullmatch(r"structure-v(\d+)\.txt", p.name)))  # fmt: skip
        version = f"v{found[-1]}"
    text = (directory / f"structure-{version}.txt").read_text(encoding="utf-8")
    blocks = re.findall(r"^### (\w+)\n(.*?)(?=^### |\Z)", text, flags=re.S | re.M)
    return f"structure-{version}", {k: Template(v.strip()) for k, v in blocks}


class StructureItems:
    """Items for a chunk, from its articles; multiple-choice distractors are true sentences of *other*
    articles of the same document, so they are plausible and provably not the answer.

    `prepare(chunks)` gives it whole documents (the one-process run); a stream of single chunks also
    works, with distractors drawn from the chunks of that document seen so far.
    """

    def __init__(self, settings: StructureSettings | None = None) -> None:
        self.settings = settings or StructureSettings()
        self.id, self.templates = load_templates(self.settings.template_version)
        self._pool: dict[str, list[tuple[str, str]]] = defaultdict(list)  # doc → (heading, sentence)
        self._seen_chunks: set[str] = set()
        self._asked: dict[str, set[str]] = defaultdict(set)  # doc → questions written

    def prepare(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            self._remember(chunk)

    def _remember(self, chunk: Chunk) -> None:
        if chunk.id in self._seen_chunks:
            return
        self._seen_chunks.add(chunk.id)
        for article in articles_of(chunk.text, chunk.section):
            for p in article.paragraphs:
                for s in sentences(p.text):
                    if _statement(s):
                        self._pool[chunk.doc_id].append((article.heading, s))

    def items(self, chunk: Chunk) -> dict[str, list[dict[str, Any]]]:
        """`{"qa": [...], "mcq": [...]}` in the teacher's item shape (question, answer, evidence...)."""
        self._remember(chunk)
        qa: list[dict[str, Any]] = []
        mcq: list[dict[str, Any]] = []
        asked = self._asked[chunk.doc_id]
        for article in articles_of(chunk.text, chunk.section):
            found, choice = self._article_items(chunk, article)
            found = [q for q in found if q["question"] not in asked][: self.settings.max_qa_per_article]
            choice = [m for m in choice if m["question"] not in asked]
            for item in found + choice:
                asked.add(item["question"])
            qa += found
            mcq += choice
        return {"qa": qa, "mcq": mcq}

    def _ask(self, kind: str, article: Article, **values: str) -> str:
        return self.templates[kind].substitute(where=article.where, para=values.pop("para", ""), **values)

    def _article_items(
        self, chunk: Chunk, article: Article
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(QA items, multiple-choice items) of one article. Each sentence feeds one item at most: two
        items resting on one sentence would be near-duplicates that dedup removes anyway."""
        s, qa, used = self.settings, [], set()
        for p in article.paragraphs:
            for term, body, line in definitions_of(p):
                qa.append(self._qa(self._ask("definition", article, term=term), body, line))
            for block in list_blocks_of(p):
                answer = "\n".join(f"{i}. {item}" for i, item in enumerate(block.items, 1))
                if len(answer) <= s.max_answer_chars:
                    question = self._ask("list", article, para=p.label, lead=block.lead)
                    qa.append(self._qa(question, answer, f"{block.lead}\n{answer}"))
                    used.add(block.lead)
            for sentence in sentences(p.text):
                plain = _CONNECTIVE.sub("", sentence)  # "다만, …" asked alone drops its connective
                for m in QUANTITY.finditer(plain):
                    if (asked := as_question(plain, m)) is None:
                        continue
                    question = self._ask("quantity", article, para=p.label, question=asked)
                    qa.append(self._qa(question, _short_answer(plain, m), sentence))
                    used.add(sentence)
        if article.continued:
            return qa, []  # the summary and the choice item belong to the piece holding the heading
        free = [x for p in article.paragraphs for x in sentences(p.text) if x not in used]
        mcq = []
        for correct in [x for x in free if _statement(x)][: s.mcq_per_article]:
            wrong = self._distractors(chunk, article, correct)
            if len(wrong) < s.choices - 1:
                break
            at = int(content_id(chunk.id, correct), 16) % s.choices  # the answer's place, stable
            mcq.append({"question": self._ask("mcq", article), "choices": [*wrong[:at], correct, *wrong[at:]],
                        "answer_index": at, "evidence": correct})  # fmt: skip
            used.add(correct)
        # What the article says: its first sentence that no other item rests on (a list's lead says
        # nothing alone).
        first = next((x for x in free if x not in used and "다음" not in x), "")
        if first and len(first) <= s.max_answer_chars:
            qa.insert(0, self._qa(self._ask("summary", article), first, first))
        return qa, mcq

    @staticmethod
    def _qa(question: str, answer: str, evidence: str) -> dict[str, Any]:
        return {"question": question, "answer": answer, "evidence": evidence}

    def _distractors(self, chunk: Chunk, article: Article, correct: str) -> list[str]:
        """True sentences of other articles, unlike the answer and not stated in this chunk; those of
        the same length come first (a length gap gives the answer away), ties broken by a stable hash."""
        s = self.settings
        seen: set[str] = set()
        ranked = []
        for heading, sentence in self._pool[chunk.doc_id]:
            if heading == article.heading or sentence in seen:
                continue
            seen.add(sentence)
            if (
                jaccard(sentence, correct) > s.max_distractor_overlap
                or containment(sentence, chunk.text) > 0.5
            ):
                continue
            ranked.append((abs(len(sentence) - len(correct)) // 15, content_id(correct, sentence), sentence))
        return [x for _, _, x in sorted(ranked)[: s.choices - 1]]


def _statement(sentence: str) -> bool:
    """A sentence that is true on its own: a choice or distractor must not lean on its neighbours
    (다만/이때…), introduce a list (다음…) or be a list item."""
    return (
        20 <= len(sentence) <= 120
        and not re.match(r"^\s*(?:\d{1,2}|[가-하])\s*[.)]", sentence)
        and not _CONNECTIVE.match(sentence)
        and "다음" not in sentence
    )


def _short_answer(sentence: str, m: re.Match[str]) -> str:
    """The quantity with what bounds it (`15일 이내`, `50% 상당액`); a bare figure (`1%`) takes the
    word before it too, so the answer says what it measures."""
    tail = _TAIL.match(sentence[m.end() :])
    short = m.group(0) + (" " + tail.group(1) if tail else "")
    if len(squash(short)) < 3:
        before = sentence[: m.start()].split()
        short = f"{before[-1]} {short}" if before else short
    return short
