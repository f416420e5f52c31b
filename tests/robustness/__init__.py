"""Robustness and safety suite (issue 8); a package so its conftest does not shadow tests/conftest.py."""
