"""The WordPiece tokenizer HFL used (BERT's Chinese vocab, lower-cased), via PaddleNLP's ElectraTokenizer."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def count_vocab(vocab: Path) -> int:
    try:
        with open(vocab, encoding="utf-8") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        raise ConfigError(f"{vocab}: vocabulary file not found; pass --vocab PATH/vocab.txt") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{vocab}: not UTF-8 text at byte {err.start}; is this really a vocab.txt?") from None


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
