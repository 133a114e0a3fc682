"""Checks that catch wrong answers, not only unsupported ones, without an LLM."""

from domainlm.checks.answers import CHECKS, AnswerChecks, CheckSettings

__all__ = ["CHECKS", "AnswerChecks", "CheckSettings"]
