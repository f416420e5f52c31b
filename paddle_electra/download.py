"""Optional convenience: fetch an hfl/* release from the Hugging Face hub and convert it into the store.

Nothing else in the package touches the network. Offline, this fails within ``timeout`` seconds and says how
to convert a local copy instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .catalog import get_variant
from .errors import StoreError
from .store import how_to_get

HUB_HOST = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://", 1)[-1].split("/", 1)[0]


def _reachable(host: str, timeout: float) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def download(name: str, force: bool = False, timeout: float = 10.0) -> Path:
    """Download ``name``'s HF upload (weights, config, vocab) and convert it into the local store."""
    variant = get_variant(name)
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _reachable(HUB_HOST, timeout):
        raise StoreError(f"cannot reach {HUB_HOST} to download {variant.hf_id} (offline?); instead, "
                         f"{how_to_get(variant.name).split(', or a')[0]}, or convert a local copy of the HF "
                         f"upload with `paddle-electra convert --hf DIR --name {variant.name}`")
    from huggingface_hub import snapshot_download

    from .convert.hf import convert_hf

    try:
        local = snapshot_download(variant.hf_id, etag_timeout=timeout,
                                  allow_patterns=["*.json", "vocab.txt", "model.safetensors", "pytorch_model.bin"])
    except Exception as err:  # the hub client raises many types; all mean "not downloaded"
        raise StoreError(f"downloading {variant.hf_id} failed ({type(err).__name__}: {err}); "
                         f"{how_to_get(variant.name)}") from None
    return convert_hf(local, name=variant.name, force=force)
