"""The one wiring module: generated samples → the review store → verified samples (or held for a human)."""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from domainlm.records import Rejection, ReviewState, Sample
from domainlm.review import ReviewGate
from domainlm_chassis.worker import DependencyUnavailable, Handler, Output, PoisonMessage, outputs_of


def sample_handler(gate: ReviewGate, rejections_topic: str) -> Handler:
    def handle(record: ConsumerRecord) -> list[Output]:
        try:
            sample = Sample.model_validate_json(record.value)
        except ValidationError as e:
            raise PoisonMessage("invalid-sample", str(e)[:1000]) from e
        try:
            admitted = gate.admit(sample)
        except OperationalError as e:  # the database is away (restarting): the message waits for it
            raise DependencyUnavailable(f"review-store-unavailable: {str(e).splitlines()[0]}") from e
        return decision_outputs(admitted, rejections_topic)

    return handle


def decision_outputs(sample: Sample, rejections_topic: str) -> list[Output]:
    """What a decided item sends on: itself when verified, a rejection when rejected, nothing if pending."""
    if sample.is_verified:
        return outputs_of([sample])
    if sample.review == ReviewState.REJECTED:
        rejection = Rejection(
            stage="review", reason=f"rejected-by-{sample.reviewer or 'reviewer'}", record_id=sample.id
        )
        return outputs_of([], [rejection], rejections_topic)
    return []  # held for a human; the gRPC Decide call sends it on
