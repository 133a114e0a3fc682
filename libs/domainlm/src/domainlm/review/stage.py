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
            human = self.settings.needs_human(sample)
            # submit() is a no-op for an item already stored, so a re-run never overrides a human.
            if self.store.submit(sample, "human" if human else "auto") and not human:
                ok, note = self.settings.auto_verdict(sample)
                action = "approve" if ok else "reject"
                self.store.decide(Decision(id=sample.id, action=action, reviewer="auto", note=note))
        yield from self.release(funnel)

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
