"""The WordPiece tokenizer HFL used (BERT's Chinese vocab, lower-cased), via PaddleNLP's ElectraTokenizer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_vocab(vocab: Path) -> list[str]:
    """The vocab's tokens, one per line, refusing what would silently shift or remap ids.

    A UTF-8 BOM would make the first token ``\\ufeff[PAD]`` (so ``[PAD]`` is no longer id 0) and a duplicate token
    maps two lines to one id: each is an error naming the line.
    """
    try:
        raw = Path(vocab).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{vocab}: vocabulary file not found; pass --vocab PATH/vocab.txt") from None
    except OSError as err:
        raise ConfigError(f"{vocab}: cannot be read ({err.strerror}); pass --vocab PATH/vocab.txt") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"{vocab}: starts with a UTF-8 byte-order mark, which would turn [PAD] into another token "
                          "and shift every id; re-save it without the BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{vocab}: not UTF-8 text at byte {err.start}; is this really a vocab.txt?") from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    seen: dict[str, int] = {}
    for number, token in enumerate(tokens, 1):
        token = token.rstrip("\r")
        if token in seen:
            raise ConfigError(f"{vocab}:{number}: token {token!r} repeats line {seen[token]}; a duplicate would map "
                              "two ids to one token — pass the vocab.txt that came with the checkpoint")
        seen[token] = number
    return list(seen)


def count_vocab(vocab: Path) -> int:
    return len(read_vocab(vocab))


def check_vocab(vocab: Path, vocab_size: int) -> None:
    """A vocab whose length differs from the embedding table silently shifts every token id: refuse it."""
    lines = count_vocab(vocab)
    if lines != vocab_size:
        raise ConfigError(
            f"{vocab} has {lines} tokens but the model's word embeddings have {vocab_size} rows; "
            "pass the vocab.txt that came with this checkpoint (--vocab)"
        )


_SPECIAL = re.compile(r"(\[(?:PAD|UNK|CLS|SEP|MASK)\])")


def _hfl_tokenizer_class():
    """ElectraTokenizer that keeps special tokens whole wherever they stand.

    Why: PaddleNLP's no-split trie misses adjacent specials, so ``北京是[MASK][MASK]的首都`` (the natural way to
    mask a two-character word) became six [UNK]s. The text is split on the special tokens first; each piece in
    between is tokenized as before.
    """
    from paddlenlp.transformers import ElectraTokenizer

    class HFLElectraTokenizer(ElectraTokenizer):
        def tokenize(self, text: str, **kwargs: Any) -> list[str]:
            if "[" not in text:
                return super().tokenize(text, **kwargs)
            tokens: list[str] = []
            for piece in _SPECIAL.split(text):
                if _SPECIAL.fullmatch(piece):
                    tokens.append(piece)
                elif piece.strip():
                    tokens += super().tokenize(piece, **kwargs)
            return tokens

        def save_pretrained(self, save_directory: str, *args: Any, **kwargs: Any) -> Any:
            # saved as plain ElectraTokenizer so AutoTokenizer and the official module load the directory
            plain = ElectraTokenizer(vocab_file=self.hfl_vocab_file, do_lower_case=self.hfl_lower_case)
            return plain.save_pretrained(save_directory, *args, **kwargs)

    return HFLElectraTokenizer


def load_tokenizer(model_dir: str | Path, **kwargs: Any):
    """HFL's tokenizer (lower-case, Chinese chars split, specials kept whole) from a model directory."""
    vocab = Path(model_dir) / "vocab.txt"
    if not vocab.is_file():
        raise ConfigError(f"{model_dir}: no vocab.txt; re-run the conversion or copy the checkpoint's vocab.txt here")
    options = {"do_lower_case": True, **kwargs}
    tokenizer = _hfl_tokenizer_class()(vocab_file=str(vocab), **options)
    tokenizer.hfl_vocab_file, tokenizer.hfl_lower_case = str(vocab), bool(options["do_lower_case"])
    return tokenizer


def save_tokenizer(vocab: Path, out_dir: Path) -> None:
    """Write vocab.txt + tokenizer_config.json + special_tokens_map.json, as PaddleNLP's save_pretrained does."""
    from paddlenlp.transformers import ElectraTokenizer

    ElectraTokenizer(vocab_file=str(vocab), do_lower_case=True).save_pretrained(str(out_dir))
