"""The review gate: items go into the store, routed by policy; verified items flow on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from domainlm.funnel import Funnel
from domainlm.records import Sample
from domainlm.review.policy import ReviewSettings
from domainlm.review.store import Decision, ReviewStore


class ReviewGate:
    """Stage: generated samples in, verified samples out.

    Items routed to humans are held (counted as `awaiting-review`) and come out of `store.verified()`
    once decided; a re-run of the pipeline picks them up.
    """

    name = "review"

    def __init__(self, store: ReviewStore, settings: ReviewSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ReviewSettings()

    def run(self, records: Iterable[Sample], funnel: Funnel) -> Iterator[Sample]:
        for sample in records:
            self._submit(sample)
        yield from self.release(funnel)

    def admit(self, sample: Sample) -> Sample:
        """Stores one item, routed by policy and decided by the checks if no human is needed.

        Returns the item as stored now: verified, rejected, or pending a human. Admitting an item again
        changes nothing (submit() is a no-op for a stored item), so a re-run or a redelivered message
        never overrides a human and gets the same answer.
        """
        if (submitted := self._submit(sample)) is not None:
            return submitted
        stored = self.store.get(sample.id)
        assert stored is not None  # submit() found it there
        return stored

    def _submit(self, sample: Sample) -> Sample | None:
        """The new item as stored (decided if no human is needed); None if it was stored before."""
        human = self.settings.needs_human(sample)
        if not self.store.submit(sample, "human" if human else "auto"):
            return None
        if human:
            return sample  # stored as given, pending a human
        ok, note = self.settings.auto_verdict(sample)
        action = "approve" if ok else "reject"
        return self.store.decide(Decision(id=sample.id, action=action, reviewer="auto", note=note))

    def release(self, funnel: Funnel) -> Iterator[Sample]:
        """Accounts for every item in the store: verified ones flow on, the rest are counted."""
        for sample in self.store.items():
            funnel.saw(self.name)
            if sample.is_verified:
                funnel.passed_on(self.name)
                yield sample
            elif sample.review == "rejected":
                funnel.reject(self.name, f"rejected-by-{sample.reviewer or 'reviewer'}", sample.id)
            else:
                funnel.reject(self.name, "awaiting-review", sample.id)
