"""Environment variable names against the services' settings classes (a misspelt name is silently
ignored by pydantic-settings, so deployment files are checked against the classes themselves)."""

from __future__ import annotations

import importlib

from pydantic import BaseModel
from pydantic_settings import BaseSettings

SERVICES = ["ocr", "generator", "review", "dedup", "evolver", "trainer"]


def settings_class(service: str) -> type[BaseSettings] | None:
    try:
        module = importlib.import_module(f"domainlm_{service}.settings")
    except ModuleNotFoundError:
        return None
    prefix = f"DOMAINLM_{service.upper()}_"
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value.model_config.get("env_prefix") == prefix
        ):
            return value
    return None


def has_path(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = field.annotation
    return isinstance(nested, type) and issubclass(nested, BaseModel) and has_path(nested, path[1:])


def env_path(service: str, name: str) -> list[str]:
    """DOMAINLM_GENERATOR_TEACHER__MODEL -> ['teacher', 'model']."""
    return name.removeprefix(f"DOMAINLM_{service.upper()}_").lower().split("__")
