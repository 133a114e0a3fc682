"""A saved model directory is servable as is: the check finds each missing piece."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from domainlm.tinymodel import IM_END, build_tiny_model
from domainlm.training import NotServable, check_servable, servable_problems
from domainlm.training.servable import save_servable, with_end_token


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("m") / "tiny", ["보험금 지급 제1조"], vocab_size=400, hidden_size=64, layers=1
    )


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "copy"))


def test_with_end_token() -> None:
    assert with_end_token(None, 4) == [4]
    assert with_end_token(1, 4) == [4, 1]
    assert with_end_token([1, 4], 4) == [4, 1]


def test_tiny_model_is_servable(tiny: Path) -> None:
    assert servable_problems(tiny) == []
    assert check_servable(tiny, IM_END) == tiny


def test_missing_end_token_in_generation_config(tiny: Path, tmp_path: Path) -> None:
    d = _copy(tiny, tmp_path)
    gen = json.loads((d / "generation_config.json").read_text())
    gen["eos_token_id"] = 1  # <|end_of_text|> only: vLLM would run past the end of the turn
    (d / "generation_config.json").write_text(json.dumps(gen))
    with pytest.raises(NotServable, match="lacks the chat end token"):
        check_servable(d)


def test_missing_pieces(tiny: Path, tmp_path: Path) -> None:
    d = _copy(tiny, tmp_path)
    (d / "model.safetensors").unlink()
    (d / "chat_template.jinja").unlink()
    (d / "generation_config.json").unlink()
    problems = " | ".join(servable_problems(d))
    assert "safetensors" in problems and "chat template" in problems and "generation_config.json" in problems
    assert servable_problems(tmp_path / "nowhere") == [f"no config.json in {tmp_path / 'nowhere'}"]


def test_save_servable_adds_end_token(tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny)
    tok = AutoTokenizer.from_pretrained(tiny)
    model.generation_config.eos_token_id = None  # as a base model's config might have it
    out = save_servable(model, tok, tmp_path / "saved")
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"][0] == tok.convert_tokens_to_ids(IM_END)
    assert servable_problems(out) == []


def test_tiny_template_trains_the_stop_token(tiny: Path) -> None:
    """Assistant-only loss must include <|im_end|>, or the model never learns to stop."""
    from transformers import AutoTokenizer
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    assert is_chat_template_stop_token_trained(AutoTokenizer.from_pretrained(tiny))
