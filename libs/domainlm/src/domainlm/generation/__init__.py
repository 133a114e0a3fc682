"""Step 4: a chunk in, QA pairs and multiple-choice items out, each checked for faithfulness."""

from domainlm.generation.faithfulness import FaithfulnessCheck
from domainlm.generation.generator import GenerateSettings, SampleGenerator

__all__ = ["FaithfulnessCheck", "GenerateSettings", "SampleGenerator"]
