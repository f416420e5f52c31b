"""Every use of a private or layout-dependent Paddle / PaddleNLP / PaddleHub internal, in one place.

Each helper names the versions it was written against (``TESTED``). When an internal moves, the helper raises
:class:`~paddle_electra.errors.CompatError` naming the package, the installed and tested versions and the fix,
instead of an AttributeError deep inside a training step. Nothing here runs at import: importing the library
changes no process-wide state (the CLI tunes its own process, :func:`paddle_electra.runtime.tune_process`).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from .errors import CompatError

# the set the constraints file pins and CI runs (constraints.txt)
TESTED = {"paddlepaddle": "3.3.1", "paddlenlp": "2.8.1", "paddlehub": "2.4.0"}


def installed_version(package: str) -> str:
    for name in (package, f"{package}-gpu") if package == "paddlepaddle" else (package,):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _moved(package: str, what: str) -> CompatError:
    return CompatError(f"{package} {installed_version(package)}: {what} is not where paddle-electra expects it "
                       f"(tested with {package}=={TESTED[package]}); install the tested version "
                       f"(pip install -c constraints.txt {package}=={TESTED[package]})")


# ------------------------------------------------------------------------------------------ Paddle
def squared_l2_norm(tensor: Any) -> Any:
    """sum(x²) as one fused kernel (Paddle 2.6 and 3.x ``_C_ops``); plain ops where the private op is absent."""
    import paddle

    fused = getattr(getattr(paddle, "_C_ops", None), "squared_l2_norm", None)
    if fused is not None:
        return fused(tensor)
    return (tensor.astype("float32") ** 2).sum()


def set_math_threads(count: int) -> None:
    """The thread count of Paddle's CPU math library (``FLAGS_paddle_num_threads``; its default is 1)."""
    try:
        from paddle.base import core
    except ImportError:  # Paddle 2.5 and older called it fluid
        try:
            from paddle.fluid import core  # type: ignore[no-redef]
        except ImportError:
            raise _moved("paddlepaddle", "paddle.base.core.set_num_threads") from None
    setter = getattr(core, "set_num_threads", None)
    if setter is None:
        raise _moved("paddlepaddle", "paddle.base.core.set_num_threads")
    setter(int(count))


def convert_attention_mask(mask: Any, dtype: Any) -> Any:
    """Paddle's own bool/int → additive float conversion of an attention mask (``nn.layer.transformer``)."""
    try:
        from paddle.nn.layer.transformer import _convert_attention_mask
    except ImportError:
        raise _moved("paddlepaddle", "paddle.nn.layer.transformer._convert_attention_mask") from None
    return _convert_attention_mask(mask, dtype)


def import_custom_ops(directory: str, name: str) -> Any:
    """Register an already built custom-op library ``directory/name.so`` and return its Python module, without
    the ``setup.py build`` subprocess ``paddle.utils.cpp_extension.load`` runs on every call (~1.5 s)."""
    try:
        from paddle.utils.cpp_extension.extension_utils import _import_module_from_library
    except ImportError:
        raise _moved("paddlepaddle", "paddle.utils.cpp_extension.extension_utils._import_module_from_library") from None
    return _import_module_from_library(name, directory, False)


# ------------------------------------------------------------------------------------------ PaddleNLP
def rtd_logits(head: Any, hidden: Any) -> Any:
    """Replaced-token logits [B, L] from PaddleNLP's ``ElectraDiscriminatorPredictions`` on ``hidden`` [B, L, H].

    Not the head's forward: PaddleNLP squeezes every axis of its output, so a batch of one (or a length of one)
    loses an axis. The layout (dense -> act -> dense_prediction) is PaddleNLP 2.x's.
    """
    try:
        dense, act, prediction = head.dense, head.act, head.dense_prediction
    except AttributeError:
        raise _moved("paddlenlp", "ElectraDiscriminatorPredictions(dense, act, dense_prediction)") from None
    return prediction(act(dense(hidden))).squeeze(-1)


# ------------------------------------------------------------------------------------------ PaddleHub
def patch_paddlehub_serving(host: str, connection_timeout_s: int) -> None:
    """``hub serving start`` bound to ``host``, threaded with a per-connection timeout, without statistics pings.

    PaddleHub 2.4.0 hard-codes 0.0.0.0 (``app_compat.run`` for the single-process Flask server, gunicorn's
    ``bind`` in ``StandaloneApplication``) and pings its statistics server from ``CacheUpdater.run``.
    """
    try:
        import paddlehub.commands.serving as serving_command
        from paddlehub.server.server import CacheUpdater
        from paddlehub.serving import app_compat
    except ImportError:
        raise _moved("paddlehub", "paddlehub.commands.serving / paddlehub.serving.app_compat") from None
    for owner, name in ((app_compat, "run"), (app_compat, "config_with_file"), (app_compat, "create_app"),
                        (serving_command, "StandaloneApplication"), (CacheUpdater, "run")):
        if not hasattr(owner, name):
            raise _moved("paddlehub", f"{owner.__name__}.{name}")

    CacheUpdater.run = lambda self: None  # no statistics requests to PaddleHub's server

    def run(configs: dict | None = None, port: int = 8866) -> None:
        from werkzeug.serving import WSGIRequestHandler

        class TimedHandler(WSGIRequestHandler):
            timeout = connection_timeout_s  # a client that stalls is dropped, never holds the others up

        if configs is None:
            raise SystemExit("hub serving: no module configuration")
        app_compat.config_with_file(configs)
        # one thread per connection, so a slow client cannot block the rest; the module predicts under a lock
        app_compat.create_app(init_flag=True).run(host=host, port=int(port), debug=False, threaded=True,
                                                  request_handler=TimedHandler)

    app_compat.run = run  # the single-process server ServingCommand starts by default

    class LocalApplication(serving_command.StandaloneApplication):
        def __init__(self, app, options=None):
            options = dict(options or {})
            options["bind"] = f"{host}:{str(options.get('bind', '')).rsplit(':', 1)[-1] or 8866}"
            super().__init__(app, options)

    serving_command.StandaloneApplication = LocalApplication  # --use_multiprocess (gunicorn)
