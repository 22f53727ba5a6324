"""Serve the dashboard on a production server: uvicorn (ASGI) running Dash's Flask app through a2wsgi.

Flask's own ``app.run`` is a development server and says so; :func:`serve` is what ``bioprocess-twin
serve`` and ``python -m dashboards.app`` use instead. The Flask app is wrapped by
:class:`a2wsgi.WSGIMiddleware`, which runs each request in a thread pool, so the HTTP API can mount
the same Flask app in its FastAPI app.
Background callbacks are unchanged: the disk-cache manager starts each job in a worker process.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable

import dash

log = logging.getLogger(__name__)

#: requests handled at the same time (a2wsgi's thread pool); long runs are background jobs, not threads
THREADS = 8


class ServeError(RuntimeError):
    """The server cannot start (the address is taken, the host does not exist, ...)."""


def asgi_app(app: dash.Dash, threads: int = THREADS):
    """Dash's Flask app as an ASGI application."""
    from a2wsgi import WSGIMiddleware

    return WSGIMiddleware(app.server, workers=threads)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (port 0: any free port); ServeError when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise ServeError(f"host {host!r} cannot be used: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    app: dash.Dash,
    host: str = "127.0.0.1",
    port: int = 8050,
    announce: Callable[[str], None] | None = None,
    threads: int = THREADS,
    sock: socket.socket | None = None,
) -> None:
    """Serve ``app`` on ``host``:``port`` (or on ``sock`` from :func:`bind`) until Ctrl-C or SIGTERM;
    ``announce(url)`` once it listens.

    Raises ServeError when the address cannot be used. Ctrl-C stops the server after the requests in
    flight and returns normally.
    """
    import uvicorn

    sock = sock if sock is not None else bind(host, port)
    config = uvicorn.Config(
        asgi_app(app, threads),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    if announce is not None:
        announce(url_of(sock, host))
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again: both end here
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    with contextlib.closing(sock):
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
