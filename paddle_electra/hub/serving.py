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


def _patch_paddlehub(host: str) -> None:
    import paddlehub.commands.serving as serving_command
    from paddlehub.server.server import CacheUpdater
    from paddlehub.serving import app_compat

    CacheUpdater.run = lambda self: None  # no statistics requests to PaddleHub's server

    def run(configs: dict | None = None, port: int = 8866) -> None:
        if configs is None:
            raise SystemExit("hub serving: no module configuration")
        app_compat.config_with_file(configs)
        app_compat.create_app(init_flag=True).run(host=host, port=int(port), debug=False, threaded=False)

    app_compat.run = run  # the single-process server ServingCommand starts by default

    class LocalApplication(serving_command.StandaloneApplication):
        def __init__(self, app, options=None):
            options = dict(options or {})
            options["bind"] = f"{host}:{str(options.get('bind', '')).rsplit(':', 1)[-1] or 8866}"
            super().__init__(app, options)

    serving_command.StandaloneApplication = LocalApplication  # --use_multiprocess (gunicorn)


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
    _patch_paddlehub(host)
    from paddlehub.commands.serving import ServingCommand

    sys.argv = ["hub", "serving", *args]  # ServingCommand parses sys.argv itself
    result = ServingCommand().execute(args)
    return 1 if result is False else 0


if __name__ == "__main__":
    sys.exit(main())
