"""Token counting for chunk bounds: the teacher's own tokenizer when it is at hand, else an estimate."""

from __future__ import annotations

import math
from pathlib import Path


class TokenCounter:
    """Counts tokens with a local `tokenizer.json` if given.

    Without one it estimates 1 token per 1.5 characters, which is close to what Llama-3-class
    tokenizers do on Korean and errs on the safe (over-counting) side for Latin text.
    """

    def __init__(self, tokenizer_path: Path | None = None) -> None:
        self._tokenizer = None
        if tokenizer_path is not None:
            from tokenizers import Tokenizer

            path = tokenizer_path / "tokenizer.json" if tokenizer_path.is_dir() else tokenizer_path
            self._tokenizer = Tokenizer.from_file(str(path))

    def __call__(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(len(text) / 1.5)
