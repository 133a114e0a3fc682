"""Step 4: a chunk in, QA pairs and multiple-choice items out, each checked for faithfulness."""

from domainlm.checks.support import FaithfulnessCheck
from domainlm.generation.generator import ChunkResult, GenerateSettings, SampleGenerator

__all__ = ["ChunkResult", "FaithfulnessCheck", "GenerateSettings", "SampleGenerator"]
