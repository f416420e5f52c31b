"""Helpers for tests/test_hub.py: a private PaddleHub home, a network guard, a free port, HTTP polling."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def point_hub_home(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Make PaddleHub use ``home`` even if it was imported (and read $HUB_HOME) before this test module ran."""
    mp.setenv("HUB_HOME", str(home))
    import paddlehub.env as env
    import paddlehub.module.manager as manager
    from paddlehub.server.server import CacheUpdater

    for attr, sub in (("MODULE_HOME", "modules"), ("TMP_HOME", "tmp"), ("CONF_HOME", "conf")):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        mp.setattr(env, attr, str(path))
        if hasattr(manager, attr):
            mp.setattr(manager, attr, str(path))
    mp.setattr(env, "HUB_HOME", str(home))
    # LocalModuleManager() binds its default home at import time
    mp.setattr(manager.LocalModuleManager.__new__, "__defaults__", (str(home / "modules"),))
    mp.setattr(CacheUpdater, "run", lambda self: None)  # hub.Module's statistics ping to PaddleHub's server


@contextlib.contextmanager
def no_network() -> Iterator[list[tuple]]:
    """Refuse (and record) every socket connection to a non-loopback address inside the block."""
    attempts: list[tuple] = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in LOOPBACK:
            attempts.append(address)
            raise OSError(f"test forbids network access to {address}")
        return real_connect(self, address)

    socket.socket.connect = guarded
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, alive=lambda: True) -> None:
    """Poll ``url`` until it answers; fail after ``timeout`` seconds or as soon as ``alive()`` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"server exited before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


def post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current environment plus the repository on PYTHONPATH (the module imports paddle_electra)."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("GLOG_minloglevel", "2")
    return env
