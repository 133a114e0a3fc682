"""Step 5: human verification: a store of items and decisions, and the policy that routes items."""

from domainlm.review.policy import ReviewPolicy, ReviewSettings
from domainlm.review.stage import ReviewGate
from domainlm.review.store import Decision, ReviewStore

__all__ = ["Decision", "ReviewGate", "ReviewPolicy", "ReviewSettings", "ReviewStore"]
