"""Runs the Falcon app under gunicorn from `sentrail serve`."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from sentrail.config import Config


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

        return create_app(self.config)


def serve(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    SentrailServer(config, {
        'bind': f'{host}:{port}',
        'workers': workers,
        'threads': threads,
        'worker_class': 'gthread' if threads > 1 else 'sync',
        'keepalive': 5,
        'timeout': 60,
        'accesslog': None,
    }).run()
