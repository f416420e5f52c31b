"""The WordPiece tokenizer HFL used (BERT's Chinese vocab, lower-cased), via PaddleNLP's ElectraTokenizer."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def read_vocab(vocab: Path) -> list[str]:
    """The vocab's tokens, one per line, refusing what would silently shift or remap ids.

    A UTF-8 BOM would make the first token ``\\ufeff[PAD]`` (so ``[PAD]`` is no longer id 0); a duplicate token
    maps both lines to one id; blank lines are tokens nobody can type. Each is an error naming the line.
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


def load_tokenizer(model_dir: str | Path):
    """ElectraTokenizer with HFL's settings (lower-case, Chinese chars split) from a model directory."""
    from paddlenlp.transformers import ElectraTokenizer

    vocab = Path(model_dir) / "vocab.txt"
    if not vocab.is_file():
        raise ConfigError(f"{model_dir}: no vocab.txt; re-run the conversion or copy the checkpoint's vocab.txt here")
    return ElectraTokenizer(vocab_file=str(vocab), do_lower_case=True)


def save_tokenizer(vocab: Path, out_dir: Path) -> None:
    """Write vocab.txt + tokenizer_config.json + special_tokens_map.json, as PaddleNLP's save_pretrained does."""
    from paddlenlp.transformers import ElectraTokenizer

    ElectraTokenizer(vocab_file=str(vocab), do_lower_case=True).save_pretrained(str(out_dir))
