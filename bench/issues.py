"""The issue stream on a project with 100,000 issues, against `sentrail serve`.

    .venv/bin/python bench/issues.py [--issues 100000] [--seconds 5] [--rounds 3] [--connections 8]
                                     [--pages 4000] [--workers 2] [--database URL] [--workdir DIR]

1. Fill (documented, since it is most of the run): a fresh SQLite file in a
   temporary directory (or --database, e.g. an empty PostgreSQL database) is
   bootstrapped (organization, team and project "bench"), then every issue is
   recorded as one ingested message event with its own fingerprint, through the
   write side's batch command `IngestEvents` (2,000 events per command: one save
   each, the issue created and numbered by the write side as for a real event),
   with the read models left behind; one catch-up then folds them in. Last-seen
   times are spread over the last 23 hours, so every issue has a 24h graph.
2. (a) `wrk` (Debian's, `apt-get install -y wrk`) on 127.0.0.1: `GET
   …/issues/?limit=25` (with the 24h stats, X-Hits and Link) for --seconds
   against `sentrail serve --workers N` and against a bare Falcon app answering
   that response's exact bytes as a static document, run by
   `sentrail.server.serve` with the same workers and threads (so with the same
   gunicorn settings); both servers run side by side and the wrk runs
   alternate (--rounds of each, medians), so load from elsewhere on a shared
   machine weighs on both alike. The list is measured twice: as clients send
   it (repeats answered from the worker's answer cache while nothing changed,
   see `AnswerCache` in sentrail/http/resources/issues.py), and with
   `Cache-Control: no-cache`, every request read from the read model.
3. (b) Walks --pages pages of 25 by the `next` cursor (4,000 pages are the
   100,000 rows), then times the first page and the last page walked, 200
   requests each, interleaved, on one keep-alive connection, past the cache.
4. (c) Resolves 1,000 issues with one PUT (`?query=is:unresolved`, Sentry's cap
   of 1,000 per bulk edit) and checks that 1,000 are resolved.

With --workdir the store is kept, and a later run with the same --workdir skips
the fill (the issues the previous run resolved stay resolved).

Prints each figure and the ratios against the targets (a) >= 50%, (b) <= 1.3.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST = '/api/0/projects/bench/bench/issues/'
NO_CACHE = {'Cache-Control': 'no-cache'}  # past the per-worker answer cache, to the read model
CHUNK = 2000
SAMPLES = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# -- filling ---------------------------------------------------------------------------------------------

def bootstrap(database_url: str) -> dict:
    env = {**os.environ, 'SENTRAIL_DATABASE_URL': database_url}
    out = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'bootstrap', '--org', 'bench', '--team', 'bench',
                          '--project', 'bench', '--json'], env=env, check=True, capture_output=True, text=True,
                         cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def fill(database_url: str, count: int) -> None:
    from sentrail.commands.ingest import IngestEvent, IngestEvents
    from sentrail.config import Config
    from sentrail.domain.actor import SYSTEM
    from sentrail.domain.ingest_normalize import normalize_event
    from sentrail.projections import organizations, projects
    from sentrail.services import Services

    services = Services(Config(database_url=database_url))
    try:
        with services.read() as conn:
            org = organizations.org_by_slug(conn, 'bench')
            project = projects.project_by_slug(conn, org.id, 'bench')
        now = time.time()
        started = time.perf_counter()
        for start in range(0, count, CHUNK):
            commands = []
            for n in range(start, min(start + CHUNK, count)):
                raw = {'message': f'bench issue {n}', 'fingerprint': [f'bench-{n}'], 'level': 'error',
                       'platform': 'python', 'culprit': f'bench.module{n % 50}',
                       'timestamp': now - 23 * 3600 + n * (23 * 3600 / count)}
                data = normalize_event(raw, received_at=now, project_id=project.number)
                commands.append(IngestEvent(project_id=UUID(project.id), project_number=project.number,
                                            organization_id=UUID(org.id), data=data, actor=SYSTEM))
            services.bus.handle(IngestEvents(events=commands))
        written = time.perf_counter() - started
        print(f'fill: {count:,} issues written in {written:.1f} s ({count / written:,.0f} events/s)', flush=True)
        started = time.perf_counter()
        services.runner.catch_up()
        folded = time.perf_counter() - started
        print(f'fill: read models caught up in {folded:.1f} s ({count / folded:,.0f} events/s)', flush=True)
    finally:
        services.close()


# -- servers ---------------------------------------------------------------------------------------------

def wait_ready(port: int, process: subprocess.Popen, path: str = '/api/0/') -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit('server exited: ' + (process.stderr.read() or b'').decode()[-2000:])
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
            conn.request('GET', path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit('server did not start')


def start_sentrail(database_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, 'SENTRAIL_DATABASE_URL': database_url, 'SENTRAIL_URL_PREFIX': f'http://127.0.0.1:{port}'}
    process = subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'serve', '--port', str(port), '--workers',
                                str(workers), '--threads', str(threads)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(port, process)
    return process


def start_bare(document: Path, port: int, workers: int, threads: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, '--serve-bare', str(document), '--port', str(port),
                                '--workers', str(workers), '--threads', str(threads)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(port, process, LIST)
    return process


def serve_bare(document: Path, port: int, workers: int, threads: int) -> None:
    """A Falcon app answering one static JSON document, under sentrail's own gunicorn set-up."""
    import falcon

    from sentrail.config import Config
    from sentrail.server import SentrailServer, serve

    body = document.read_bytes()

    class Static:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.data = body
            resp.content_type = falcon.MEDIA_JSON

    app = falcon.App()
    app.add_route(LIST, Static())
    app.add_route('/api/0/', Static())
    SentrailServer.load = lambda self: app  # the same options, another app
    serve(Config(database_url='sqlite://'), '127.0.0.1', port, workers, threads)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


# -- measuring -------------------------------------------------------------------------------------------

def wrk(port: int, path: str, headers: dict, seconds: int, connections: int) -> float:
    command = ['wrk', '-t2', f'-c{connections}', f'-d{seconds}s', '--latency']
    for name, value in headers.items():
        command += ['-H', f'{name}: {value}']
    out = subprocess.run(command + [f'http://127.0.0.1:{port}{path}'], capture_output=True, text=True,
                         check=True).stdout
    if 'Non-2xx' in out:
        raise SystemExit('wrk saw errors:\n' + out)
    return float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int, headers: dict) -> None:
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
        self.headers = headers

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({'Content-Type': 'application/json'} if data else {})}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response, response.read()

    def timed(self, path: str) -> float:
        started = time.perf_counter()
        response, _ = self.request('GET', path)
        elapsed = time.perf_counter() - started
        assert response.status == 200, response.status
        return elapsed


def next_cursor(response: http.client.HTTPResponse) -> tuple[str, bool]:
    match = re.search(r'rel="next"; results="(true|false)"; cursor="([^"]+)"', response.getheader('Link'))
    return match.group(2), match.group(1) == 'true'


def walk(client: Client, pages: int) -> tuple[str, float, int]:
    """The URL of the last page walked, the walk's time and the rows seen."""
    started, cursor, rows, path = time.perf_counter(), '', 0, f'{LIST}?limit=25'
    for _ in range(pages):
        path = f'{LIST}?limit=25&cursor={cursor}'
        response, body = client.request('GET', path)
        assert response.status == 200, response.status
        rows += len(json.loads(body))
        cursor, more = next_cursor(response)
        if not more:
            break
    return path, time.perf_counter() - started, rows


def latencies(client: Client, first: str, deep: str) -> tuple[float, float]:
    for _ in range(20):  # warm both
        client.timed(first)
        client.timed(deep)
    a, b = [], []
    for _ in range(SAMPLES):
        a.append(client.timed(first))
        b.append(client.timed(deep))
    return statistics.median(a), statistics.median(b)


def resolve_thousand(client: Client) -> float:
    started = time.perf_counter()
    response, body = client.request('PUT', f'{LIST}?query=is:unresolved', {'status': 'resolved'})
    elapsed = time.perf_counter() - started
    assert response.status == 200, (response.status, body)
    response, _ = client.request('GET', f'{LIST}?query=is:resolved&limit=1&statsPeriod=')
    assert response.getheader('X-Hits') == '1000', response.getheader('X-Hits')
    return elapsed


def default_threads() -> int:
    from sentrail.cli import serve
    return next(p.default for p in serve.params if p.name == 'threads')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--issues', type=int, default=100_000)
    parser.add_argument('--seconds', type=int, default=5, help='length of each wrk run')
    parser.add_argument('--rounds', type=int, default=3, help='wrk runs of each server, interleaved')
    parser.add_argument('--connections', type=int, default=8)
    parser.add_argument('--pages', type=int, default=4000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--database', default=None)
    parser.add_argument('--workdir', default=None, help='keep the store here, and reuse one filled before')
    parser.add_argument('--port', type=int, default=None)
    parser.add_argument('--serve-bare', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads = args.threads or default_threads()
    if args.serve_bare:
        serve_bare(Path(args.serve_bare), args.port, args.workers, threads)
        return
    if shutil.which('wrk') is None:
        raise SystemExit('wrk is needed: apt-get install -y wrk')
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = args.workdir or tempfile.mkdtemp(prefix='sentrail-bench-issues-')
    Path(workdir).mkdir(parents=True, exist_ok=True)
    try:
        run(args, threads, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def prepared(args: argparse.Namespace, workdir: str, database_url: str) -> dict:
    """The store's credentials: filled now, or before into --workdir (then reused as it is)."""
    saved = Path(workdir) / 'credentials.json'
    if args.workdir and saved.exists():
        print('fill: reusing the store filled before in', workdir, flush=True)
        return json.loads(saved.read_text())
    credentials = bootstrap(database_url)
    fill(database_url, args.issues)
    saved.write_text(json.dumps(credentials))
    return credentials


def run(args: argparse.Namespace, threads: int, workdir: str) -> None:
    database_url = args.database or f'sqlite:///{workdir}/sentrail.db'
    print(f'database: {urlsplit(database_url).scheme}; {args.workers} workers x {threads} threads; '
          f'{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}', flush=True)
    credentials = prepared(args, workdir, database_url)
    headers = {'Authorization': 'Basic ' + base64.b64encode(f'{credentials["api_key"]}:'.encode()).decode()}
    port, bare_port = free_port(), free_port()
    server = start_sentrail(database_url, port, args.workers, threads)
    bare = None
    try:
        client = Client(port, headers)
        response, document = client.request('GET', f'{LIST}?limit=25')
        assert response.status == 200 and response.getheader('X-Hits') == '1000', response.status
        (Path(workdir) / 'page.json').write_bytes(document)
        bare = start_bare(Path(workdir) / 'page.json', bare_port, args.workers, threads)
        deep, walked, rows = walk(client, args.pages)
        first_ms, deep_ms = (t * 1000 for t in latencies(Client(port, {**headers, **NO_CACHE}), f'{LIST}?limit=25',
                                                         deep))
        rates: dict[str, list[float]] = {'sentrail': [], 'fresh': [], 'bare': []}
        for _ in range(args.rounds):  # interleaved, so a shared machine's load drifts into all three alike
            rates['sentrail'].append(wrk(port, f'{LIST}?limit=25', headers, args.seconds, args.connections))
            rates['bare'].append(wrk(bare_port, LIST, {}, args.seconds, args.connections))
            rates['fresh'].append(wrk(port, f'{LIST}?limit=25', {**headers, **NO_CACHE}, args.seconds,
                                      args.connections))
        resolved = resolve_thousand(Client(port, headers))
    finally:
        stop(server)
        if bare is not None:
            stop(bare)
    sentrail_rate, fresh_rate, bare_rate = (statistics.median(rates[k]) for k in ('sentrail', 'fresh', 'bare'))
    print(f'(a) GET {LIST}?limit=25 ({len(document):,} bytes; wrk -t2 -c{args.connections}, {args.rounds} runs '
          f'of {args.seconds} s each, interleaved, medians): sentrail {sentrail_rate:,.0f} req/s, bare Falcon '
          f'{bare_rate:,.0f} req/s: {sentrail_rate / bare_rate:.0%} (target >= 50%); every request past the answer '
          f'cache (Cache-Control: no-cache): {fresh_rate:,.0f} req/s, {fresh_rate / bare_rate:.0%}')
    print(f'(b) walked {rows:,} rows in {args.pages:,} pages of 25 in {walked:.1f} s; median latency first page '
          f'{first_ms:.2f} ms, last page walked {deep_ms:.2f} ms: ratio {deep_ms / first_ms:.2f} (target <= 1.3)')
    print(f'(c) PUT ?query=is:unresolved {{"status": "resolved"}}: 1,000 issues resolved in {resolved * 1000:,.0f} ms')
    print(f'load average at the end {os.getloadavg()[0]:.1f} (the machine may be shared: compare runs at similar load)')


if __name__ == '__main__':
    main()
