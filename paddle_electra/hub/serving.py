"""``hub serving start`` bound to one interface (127.0.0.1 by default) and without PaddleHub's server pings.

PaddleHub 2.4.0 hard-codes ``0.0.0.0`` (``app_compat.run`` for the default single-process Flask server,
``"bind": "0.0.0.0:PORT"`` for ``--use_multiprocess`` gunicorn) and has no option to change it; every start also
pings PaddleHub's statistics server from a background thread. This runs PaddleHub's own ``ServingCommand``
unchanged except for the bind address and the ping, so requests and responses are exactly ``hub serving``'s::

    python -m paddle_electra.hub.serving start -m chinese-electra-small -p 8866 [--host 127.0.0.1]
    python -m paddle_electra.hub.serving start -c serving_config.json          # task, label_map, … per module

The ``--use_gpu`` mode (PaddleHub's zmq workers) is not covered: it binds its own sockets.
"""

from __future__ import annotations

import sys

DEFAULT_HOST = "127.0.0.1"
CONNECTION_TIMEOUT_S = 30


def _check_installed(args: list[str]) -> None:
    """``-m NAME`` of a module that is not installed: say how to install it, not PaddleHub's Hub-server error."""
    from ..errors import StoreError
    from .install import resolve_hub_home

    if "-m" not in args and "--modules" not in args:
        return
    at = args.index("-m") if "-m" in args else args.index("--modules")
    for name in args[at + 1:]:
        if name.startswith("-"):
            break
        module = name.split("==")[0]
        if not (resolve_hub_home() / "modules" / module.replace("-", "_")).is_dir():
            raise StoreError(f"PaddleHub module {module} is not installed under {resolve_hub_home() / 'modules'}; "
                             f"install it with `paddle-electra hub-install {module}` (offline), then serve it")


def main(argv: list[str] | None = None) -> int:
    """Parse ``--host`` and hand the rest to PaddleHub's ``hub serving`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    host = DEFAULT_HOST
    if "--host" in args:
        at = args.index("--host")
        if at + 1 >= len(args):
            print("--host needs an address, e.g. --host 127.0.0.1", file=sys.stderr)
            return 2
        host = args[at + 1]
        del args[at:at + 2]
    if not args or args[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    _check_installed(args)
    from ..compat import patch_paddlehub_serving

    patch_paddlehub_serving(host, CONNECTION_TIMEOUT_S)
    from paddlehub.commands.serving import ServingCommand

    sys.argv = ["hub", "serving", *args]  # ServingCommand parses sys.argv itself
    result = ServingCommand().execute(args)
    return 1 if result is False else 0


if __name__ == "__main__":
    sys.exit(main())
