"""Fused, multi-threaded CPU kernels for the encoder layer (Paddle custom operators, compiled on first use)."""

from .build import load, unavailable_reason
from .fused import available, fuse_encoder, fuse_for_training, unfuse_encoder, unfused

__all__ = ["available", "fuse_encoder", "fuse_for_training", "load", "unavailable_reason", "unfuse_encoder", "unfused"]
