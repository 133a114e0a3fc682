"""List answers: one that reads as the whole list (지급사유, 면책사유) must not drop any of its items.

"Which cases are excluded?" answered with three of the four exclusions is the kind of wrong answer
a reviewer misses and a customer pays for; an answer that says it gives examples (등, 예를 들어) may.
"""

from __future__ import annotations

import re

from domainlm.textsim import char_ngrams

_MARKER = re.compile(r"(?:^|\n|\s)(?:(\d{1,2})\.|([가-하])\.|([①-⑳]))\s*")
_HEDGE = re.compile(
    r"(?<![가-힣])등(?=[이을의에과은도으입,.)\s]|$)|[가-힣]\s*등(?=의|이|을|과)|예를 들|예컨대|일부|대표적|따위"
)
_HEAD_END = re.compile(r"[.:：(]|다만|\s-\s")


def list_blocks(text: str, paragraphs: bool = True) -> list[list[str]]:
    """Runs of items under one numbering (1. 2. 3. / 가. 나. / ① ②), each item's text.

    >>> list_blocks("다음과 같습니다. 1. 사망한 경우 2. 장해가 된 경우 3. 입원한 경우")
    [['사망한 경우', '장해가 된 경우', '입원한 경우']]
    """
    marks = list(_MARKER.finditer(text))
    blocks: list[list[str]] = []
    prev: tuple[int, int] | None = None  # (kind, ordinal) of the item before
    for n, m in enumerate(marks):
        kind = 0 if m.group(1) else 1 if m.group(2) else 2
        if kind == 2 and not paragraphs:
            prev = None
            continue
        ordinal = int(m.group(1)) if m.group(1) else ord(m.group(2) or m.group(3) or "")
        end = marks[n + 1].start() if n + 1 < len(marks) else len(text)
        item = text[m.end() : end].strip()
        # 가 나 다 are syllables, not consecutive code points: they need only go up.
        follows = (
            prev is not None
            and prev[0] == kind
            and (ordinal > prev[1] if kind == 1 else ordinal == prev[1] + 1)
        )
        if follows and blocks:
            blocks[-1].append(item)
        else:
            blocks.append([item])
        prev = (kind, ordinal)
    return [b for b in blocks if len(b) >= 2]


def _head(item: str) -> str:
    # An item's name is its first clause: "피보험자가 고의로 자신을 해친 경우. 다만, ..." → the case itself.
    m = _HEAD_END.search(item)
    return (item[: m.start()] if m and m.start() >= 4 else item)[:40]


def _named_shares(block: list[str], said: set[str]) -> list[float]:
    # Items of one list share their frame (…가 고의로 …를 해친 경우): only what sets an item apart from
    # its siblings shows whether the answer names it.
    grams = [char_ngrams(_head(item)) for item in block]
    shares = []
    for k, own in enumerate(grams):
        others = set().union(*(g for j, g in enumerate(grams) if j != k))
        distinct = (own - others) or own
        shares.append(len(distinct & said) / len(distinct) if distinct else 0.0)
    return shares


def dropped_items(answer: str, source: str, min_item_support: float = 0.7) -> str | None:
    """Why a list answer is incomplete, or None.

    The answer must name at least two items of one list of the source to count as a list answer, and
    not say that it gives only some of them.
    """
    said = char_ngrams(answer)
    # An answer written as a numbered list is matched item by item: a source item counts as named only
    # when one answer item names it, so words an item shares with its neighbours cannot stand in for it.
    answer_items = [char_ngrams(_head(item)) for b in list_blocks(answer, paragraphs=False) for item in b]
    # ①② are paragraphs (항) of an article, not the items of a list.
    for block in list_blocks(source, paragraphs=False):
        # 등 inside an item (암호화 등 처리방법, 심신상실 등으로) is not the answer hedging.
        if len(_HEDGE.findall(answer)) > sum(len(_HEDGE.findall(item)) for item in block):
            continue
        if len(answer_items) >= 2:
            shares = [max(col) for col in zip(*(_named_shares(block, a) for a in answer_items), strict=True)]
        else:
            shares = _named_shares(block, said)
        covered = [share >= min_item_support for share in shares]
        if sum(covered) >= 2 and not all(covered):
            missing = [_head(item) for item, c in zip(block, covered, strict=True) if not c]
            return f"list-incomplete: {sum(covered)} of {len(block)} items; missing {missing[0]!r}"
    return None
