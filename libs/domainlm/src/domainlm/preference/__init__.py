"""Step 8: DPO preference pairs from verified samples."""

from domainlm.preference.pairs import PairBuilder, PairSettings
from domainlm.preference.sources import DistractorSource, RejectedAnswerSource

__all__ = ["DistractorSource", "PairBuilder", "PairSettings", "RejectedAnswerSource"]
