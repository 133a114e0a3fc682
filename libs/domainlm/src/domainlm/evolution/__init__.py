"""Step 7: Evol-Instruct (WizardLM) over verified samples, with elimination of failed evolutions."""

from domainlm.evolution.elimination import EliminationSettings, eliminate
from domainlm.evolution.evolver import EVOLUTION_OPS, EvolveResult, EvolveSettings, InstructionEvolver

__all__ = [
    "EVOLUTION_OPS",
    "EliminationSettings",
    "EvolveResult",
    "EvolveSettings",
    "InstructionEvolver",
    "eliminate",
]
