"""The index: in-batch and cross-batch dedup, exact verification, persistence, resume, config checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainlm.dedup import IndexConfigMismatch, Match, MinhashConfig, NearDuplicateIndex
from domainlm.dedup.labelled import exact_jaccard

BASE = (
    "제5조(보험금 지급에 관한 세부규정) ① 회사는 피보험자가 입원한 경우 입원일수에 따라 보험금을 지급합니다."
)
NEAR = (
    "제5조[보험금 지급에 관한 세부 규정] ① 회사는 피보험자가 입원한 경우, 입원일수에 따라 보험금를 지급합니다"
)
OTHER = "제12조(계약의 무효) 계약을 맺을 때에 보험대상자가 만 15세 미만인 경우에는 계약을 무효로 합니다."
OTHER2 = (
    "여행 중 휴대품이 도난당한 경우 회사는 보험가입금액을 한도로 손해를 보상하며 자기부담금은 1만원입니다."
)


def config(**kw: int) -> MinhashConfig:
    return MinhashConfig.model_validate(kw)


def test_first_occurrence_kept_within_a_batch() -> None:
    index = NearDuplicateIndex(config())
    found = index.add_batch(["a", "b", "c", "d"], [BASE, OTHER, NEAR, BASE])
    assert found[0] is None and found[1] is None
    assert found[2] == Match("a", pytest.approx(exact_jaccard(BASE, NEAR, index.config.ngram), abs=1e-4))
    assert found[3] == Match("a", 1.0)
    assert len(index) == 2 and "a" in index and "c" not in index


def test_later_batches_are_checked_against_earlier_ones() -> None:
    index = NearDuplicateIndex(config())
    assert index.add_batch(["a", "b"], [BASE, OTHER]) == [None, None]
    found = index.add_batch(["c", "d"], [NEAR, OTHER2])
    assert found[0] is not None and found[0].kept == "a" and found[1] is None
    assert index.lookup([OTHER + "!", "전혀 관계없는 다른 내용의 문장입니다 하하하"]) == [
        Match("b", 1.0),
        None,
    ]
    assert len(index) == 3  # lookup changes nothing


def test_candidates_below_the_threshold_are_kept() -> None:
    # Shares a long heading with BASE: LSH may propose the pair, the exact check must refuse it.
    shared = BASE[:30] + " 다만 보험계약자가 고의로 사고를 일으킨 때에는 보험금을 지급하지 않습니다."
    assert exact_jaccard(BASE, shared, 4) < 0.5
    index = NearDuplicateIndex(config(num_perm=64, bands=32, rows=2))  # many candidates
    assert index.add_batch(["a", "b"], [BASE, shared]) == [None, None]


def test_known_keys_are_already_present_not_duplicates() -> None:
    index = NearDuplicateIndex(config())
    index.add_batch(["a"], [BASE])
    # Redelivery of "a", even with other text, is no duplicate and no second entry; "x" repeats in the
    # batch and both occurrences get the first one's answer.
    found = index.add_batch(["a", "x", "x", "y", "y"], [NEAR, OTHER, OTHER, NEAR, NEAR])
    assert found[:3] == [None, None, None]
    assert found[3] is not None and found[3] == found[4] and found[3].kept == "a"
    assert len(index) == 2


def test_persistence_round_trip_and_resume(tmp_path: Path) -> None:
    where = tmp_path / "index"
    first = NearDuplicateIndex(config(), where)
    found = first.add_batch(["a", "b", "c"], [BASE, OTHER, NEAR])
    assert found[:2] == [None, None] and found[2] is not None and found[2].kept == "a"
    first.save()
    assert sorted(p.name for p in where.iterdir()) == ["index.npz"]  # no temporary file left behind

    again = NearDuplicateIndex(config(), where)
    assert len(again) == 2 and "a" in again and "b" in again
    # A resumed run replays the same rows: the same answers, nothing inserted twice.
    replay = again.add_batch(["a", "b", "c"], [BASE, OTHER, NEAR])
    assert replay[:2] == [None, None] and replay[2] is not None and replay[2].kept == "a"
    assert again.add_batch(["d"], [OTHER2]) == [None]
    again.save()
    third = NearDuplicateIndex(config(), where)
    assert len(third) == 3
    found = third.add_batch(["e"], [OTHER2 + " (끝)"])[0]
    assert found is not None and found.kept == "d"


def test_empty_index_saves_and_loads(tmp_path: Path) -> None:
    NearDuplicateIndex(config(), tmp_path).save()
    index = NearDuplicateIndex(config(), tmp_path)
    assert len(index) == 0 and index.add_batch(["a"], [BASE]) == [None]


def test_index_built_with_other_settings_is_refused(tmp_path: Path) -> None:
    built = NearDuplicateIndex(config(ngram=4), tmp_path)
    built.add_batch(["a"], [BASE])
    built.save()
    with pytest.raises(IndexConfigMismatch, match="ngram=5"):
        NearDuplicateIndex(config(ngram=5), tmp_path)
    with pytest.raises(ValueError, match="no directory"):
        NearDuplicateIndex(config()).save()


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError, match="2 keys for 1 texts"):
        NearDuplicateIndex(config()).add_batch(["a", "b"], [BASE])
