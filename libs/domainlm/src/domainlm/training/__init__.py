"""Training: SFT and DPO with TRL on the factory's exports, saving models vLLM serves as is."""

from domainlm.training.common import TrainResult
from domainlm.training.servable import NotServable, check_servable, servable_problems
from domainlm.training.settings import (
    DpoSettings,
    SftSettings,
    TrainSettings,
    deepspeed_config,
    last_checkpoint,
)

__all__ = [
    "DpoSettings",
    "NotServable",
    "SftSettings",
    "TrainResult",
    "TrainSettings",
    "check_servable",
    "deepspeed_config",
    "last_checkpoint",
    "servable_problems",
]
