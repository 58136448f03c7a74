"""The `sentrail` command: serve, bootstrap, and the projection tasks."""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone

import click
import orjson

from sentrail.collector import collector_paused, tune_collector
from sentrail.config import Config

PARENT_CHECK = 1.0  # seconds between a follower's looks at whether its server is still there


def _config(database: str | None = None, read_only: bool = False) -> Config:
    return Config.from_env(database_url=database, read_only=read_only or None)


@click.group()
def main() -> None:
    """A self-hosted server for the Sentry management API and event ingestion."""
    tune_collector()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')


@main.command()
@click.option('--host', default='127.0.0.1', show_default=True)
@click.option('--port', default=9000, show_default=True, type=int)
@click.option('--workers', default=2, show_default=True, type=int)
@click.option('--threads', default=16, show_default=True, type=int,
              help='Request threads per worker; concurrent ingestion requests share one commit.')
@click.option('--database', default=None, help='Database URL (default: $SENTRAIL_DATABASE_URL or sqlite:///sentrail.db).')
@click.option('--read-only', is_flag=True, help='Serve the read models only; every write is refused.')
def serve(host: str, port: int, workers: int, threads: int, database: str | None, read_only: bool) -> None:
    """Start the HTTP server (gunicorn) and a projection follower beside it; on an
    empty store, create the first install."""
    from sentrail.server import serve as run_server
    from sentrail.seed import ensure_installation, store_is_empty
    from sentrail.services import Services

    config = _config(database, read_only)
    services = Services(config)
    if store_is_empty(services) and not read_only:
        installation = ensure_installation(services, 'sentry', 'sentry', 'internal')
        click.echo('Created the first organization "sentry" with team "sentry" and project "internal".')
        click.echo(f'  user:       {installation.email}  password: {installation.password}')
        click.echo(f'  api key:    {installation.api_key}')
        click.echo(f'  auth token: {installation.auth_token}')
        click.echo(f'  DSN:        {installation.dsn}')
    services.close()
    run_server(config, host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.option('--org', 'org_slug', required=True)
@click.option('--team', 'team_slug', required=True)
@click.option('--project', 'project_slug', required=True)
@click.option('--email', default=None)
@click.option('--password', default=None)
@click.option('--json', 'as_json', is_flag=True, help='Print one JSON object.')
def bootstrap(org_slug: str, team_slug: str, project_slug: str, email: str | None, password: str | None,
              as_json: bool) -> None:
    """Create whatever is missing and print fresh credentials."""
    from sentrail.seed import DEFAULT_EMAIL, ensure_installation
    from sentrail.services import Services

    services = Services(_config())
    installation = ensure_installation(services, org_slug, team_slug, project_slug,
                                       email=email or DEFAULT_EMAIL, password=password)
    if as_json:
        click.echo(orjson.dumps(installation.as_json()).decode())
    else:
        for name, value in installation.as_json().items():
            click.echo(f'{name}: {value}')


@main.group()
def projections() -> None:
    """Read-model tasks: follow the log, show positions, rebuild."""


@projections.command('run')
@click.option('--interval', default=None, type=float,
              help='Longest wait between catch-ups while events keep arriving '
                   '(default: $SENTRAIL_FOLLOW_INTERVAL or 0.5 s).')
@click.option('--parent', default=None, type=int, hidden=True,
              help='Stop once this process is gone (`serve` starts a follower so).')
def projections_run(interval: float | None, parent: int | None) -> None:
    """Keep every projection at the head of the log. On SQLite one follower
    works at a time and the others stand by; `serve` starts one beside its workers."""
    from sentrail.services import Services

    services = Services(Config.from_env(follow_interval=interval))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    services.catch_up_soon()
    try:
        while not stopping.wait(PARENT_CHECK):
            if parent is not None and os.getppid() != parent:
                break
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@projections.command('status')
@click.option('--json', 'as_json', is_flag=True)
def projections_status(as_json: bool) -> None:
    """Each projection's position against the head of the log."""
    from sentrail.services import Services

    rows = Services(_config()).runner.status()
    if as_json:
        for row in rows:
            click.echo(orjson.dumps({'name': row.name, 'position': row.position, 'head': row.head,
                                     'lag': row.lag}).decode())
        return
    click.echo(f'{"projection":<20} {"position":>10} {"head":>10} {"lag":>10}')
    for row in rows:
        click.echo(f'{row.name:<20} {row.position:>10} {row.head:>10} {row.lag:>10}')


@projections.command('rebuild')
@click.argument('names', nargs=-1)
@click.option('--until', default=None, help='ISO time: build the read models as they stood then.')
@click.option('--database', default=None,
              help='Write the read models into this database instead (the event store stays the configured one).')
def projections_rebuild(names: tuple[str, ...], until: str | None, database: str | None) -> None:
    """Drop the named read models (default: all) and rebuild them from position 0."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from sentrail.commands.application import Sentrail
    from sentrail.projections.database import make_engines
    from sentrail.projections.registry import all_projections
    from sentrail.projections.runner import ProjectionRunner

    source = _config().database_url
    writer, _ = make_engines(database or source)
    runner = ProjectionRunner(Sentrail(source), writer, all_projections())
    runner.create_tables()
    unknown = [n for n in names if n not in runner.projections]
    if unknown:
        raise click.BadParameter(f'unknown projection {unknown[0]!r}; known: {", ".join(runner.projections)}')
    chosen = list(names or runner.projections)
    moment = _moment(until)
    target = runner.position_at(moment) if moment else runner.head()
    started = time.monotonic()
    columns = (TextColumn('{task.description}'), BarColumn(), TaskProgressColumn(),
               TextColumn('{task.completed}/{task.total}'), TextColumn('{task.fields[rate]}'), TimeElapsedColumn())
    with Progress(*columns) as progress:
        tasks = {name: progress.add_task(name, total=target, rate='') for name in chosen}

        def show(name: str, position: int, _: int) -> None:
            elapsed = time.monotonic() - started
            rate = f'{position / elapsed:,.0f} events/s' if elapsed else ''
            progress.update(tasks[name], completed=position, rate=rate)

        with collector_paused():
            runner.rebuild(chosen, progress=show, until=target)
    elapsed = time.monotonic() - started
    rate = target / elapsed if elapsed else 0
    click.echo(f'rebuilt {len(chosen)} projection(s) up to position {target} in {elapsed:.1f}s '
               f'({rate:,.0f} log positions/s)')


@main.group()
def audit() -> None:
    """The audit trail, read from the event store."""


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@audit.command('replay')
@click.option('--org', 'org_slug', default=None, help='Only this organization (any slug it has had).')
@click.option('--since', default=None, help='ISO time; entries at or after it.')
@click.option('--until', default=None, help='ISO time; entries at or before it.')
@click.option('--format', 'output', type=click.Choice(['text', 'jsonl']), default='text', show_default=True)
def audit_replay(org_slug: str | None, since: str | None, until: str | None, output: str) -> None:
    """Walk the event store in order and print who did what, when, to what."""
    import sys

    from rich.progress import Progress

    from sentrail.commands.application import Sentrail
    from sentrail.http.serializers.audit import audit_entry
    from sentrail.replay import replay

    app = Sentrail(_config().database_url)
    show_progress = sys.stderr.isatty()
    with Progress(transient=True, disable=not show_progress) as progress:
        task = progress.add_task('replaying', total=None)
        rows = replay(app, org_slug, _moment(since), _moment(until),
                      progress=lambda done, total: progress.update(task, completed=done, total=total))
        for row in rows:
            entry = audit_entry(row)
            if output == 'jsonl':
                click.echo(orjson.dumps(entry).decode())
            else:
                click.echo(f"{entry['dateCreated']}  {entry['event']:<22} {entry['actor']['name']:<30} "
                           f"{entry['ipAddress'] or '-':<15} {entry['note']}")


if __name__ == '__main__':
    main()
