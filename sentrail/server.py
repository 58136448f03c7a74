"""Runs the Falcon app under gunicorn from `sentrail serve`."""
from __future__ import annotations

import os
import subprocess
import sys

import orjson
from gunicorn import util
from gunicorn.app.base import BaseApplication

from sentrail.config import Config

# gunicorn refuses request heads past these itself; they are set above the app's
# own limits (sentrail.http.limits) so that the app sees, and refuses with its
# JSON errors, anything a little too long.
LIMIT_REQUEST_LINE = 8190  # gunicorn's largest bounded value (0 would mean unbounded)
LIMIT_REQUEST_FIELD_SIZE = 16384
FOLLOWER_STOP_SECONDS = 15


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:  # noqa: ANN001
    """What gunicorn answers for a head it cannot parse or accept (a request line
    past 8190 bytes, a huge header, a malformed request): JSON like the app's
    errors rather than gunicorn's HTML page."""
    body = orjson.dumps({'detail': f'{reason}: {mesg}' if mesg else reason})
    head = (f'HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n'
            f'Content-Length: {len(body)}\r\n\r\n')
    util.write_nonblock(sock, head.encode('latin-1') + body)


class SentrailServer(BaseApplication):
    """Each worker builds its own app (and database connections) after the fork."""

    def __init__(self, config: Config, options: dict) -> None:
        self.config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # noqa: ANN201
        from sentrail.http.app import create_app

        util.write_error = write_json_error  # gunicorn's workers call it through the module
        return create_app(self.config)


def start_follower(config: Config) -> subprocess.Popen:
    """The projection follower in a process of its own (`sentrail projections
    run`): folding the log then takes no worker's interpreter lock from the
    requests it serves, and the workers' own followers stand by, taking over
    if this one dies. It stops with the server."""
    env = {**os.environ, 'SENTRAIL_DATABASE_URL': config.database_url}
    return subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'projections', 'run',
                             '--interval', str(config.follow_interval), '--parent', str(os.getpid())], env=env)


def serve(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    follower = None if config.read_only else start_follower(config)
    try:
        run_gunicorn(config, host, port, workers, threads)
    finally:
        if follower is not None:
            follower.terminate()
            try:
                follower.wait(FOLLOWER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                follower.kill()


def run_gunicorn(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    SentrailServer(config, {
        'bind': f'{host}:{port}',
        'workers': workers,
        'threads': threads,
        'worker_class': 'gthread' if threads > 1 else 'sync',
        'keepalive': 5,
        'timeout': 60,
        'accesslog': None,
        'limit_request_line': LIMIT_REQUEST_LINE,
        'limit_request_field_size': LIMIT_REQUEST_FIELD_SIZE,
        # gunicorn's control socket lives in $HOME and is shared by every server there.
        'control_socket_disable': True,
    }).run()
