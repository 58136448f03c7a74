"""Ingestion throughput, end to end, against a `sentrail serve` this script starts.

    .venv/bin/python bench/ingest.py [--events 2000] [--threads 8] [--fingerprints 20] [--workers 2]

1. Bootstraps a fresh SQLite file in a temporary directory and starts
   `sentrail serve` on it (default settings: 2 workers) with
   SENTRAIL_BENCH_ENDPOINTS=1.
2. Parse-only yardstick: posts the envelopes to `/api/{id}/envelope-parse/`
   (decompress and parse, then discard) from the same client threads.
3. Floor: posts them (fresh event ids) to `/api/{id}/envelope-floor/`, the
   envelope endpoint whose writer stores each event as one row of a scratch
   table (sentrail.commands.ingest_floor): what ingestion costs before issue
   assignment, the event store's aggregates and the read models.
4. Ingestion: posts them (fresh event ids) to `/api/{id}/envelope/` and times
   from the first send until the issue list counts every event (sum of
   `count` over `projects/{org}/{project}/issues/`).

Prints the rates, the floor's and the end-to-end rate's share of parse-only. Envelopes are about 3 kB of JSON, shaped
like sentry-sdk 2.x exception events, gzip-compressed like the SDK sends them.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# -- payloads ---------------------------------------------------------------

MODULES = {'urllib3': '2.2.1', 'requests': '2.32.3', 'certifi': '2024.2.2', 'sentry-sdk': '2.75.0',
           'falcon': '4.0.2', 'sqlalchemy': '2.0.30', 'orjson': '3.10.3'}


def frame(n: int, fingerprint: int, depth: int) -> dict:
    return {
        'filename': f'app/services/module_{fingerprint}.py',
        'abs_path': f'/srv/app/app/services/module_{fingerprint}.py',
        'function': f'handler_{fingerprint}_{depth}',
        'module': f'app.services.module_{fingerprint}',
        'lineno': 40 + depth * 7,
        'pre_context': ['    def run(self):', '        data = self.load()', '        total = 0'],
        'context_line': f'        total += compute_{depth}(data[{n % 5}])',
        'post_context': ['        return total', '', '    def load(self):'],
        'vars': {'self': '<Job object at 0x7f0c2a1b3d90>', 'data': f'[{n}, {n + 1}, {n + 2}]', 'total': '0'},
        'in_app': True,
    }


def event(n: int, fingerprints: int) -> dict:
    fingerprint = n % fingerprints
    return {
        'event_id': uuid.uuid4().hex,
        'level': 'error',
        'platform': 'python',
        'timestamp': time.strftime('%Y-%m-%dT%H:%M:%S.000000Z', time.gmtime()),
        'server_name': 'web-1',
        'environment': 'production',
        'release': 'bench@1.0.0',
        'exception': {'values': [{
            'type': f'BenchError{fingerprint}',
            'value': f'something went wrong in request {n}',
            'module': 'app.errors',
            'mechanism': {'type': 'generic', 'handled': True},
            'stacktrace': {'frames': [frame(n, fingerprint, depth) for depth in range(4)]},
        }]},
        'contexts': {
            'trace': {'trace_id': uuid.uuid4().hex, 'span_id': uuid.uuid4().hex[:16], 'parent_span_id': None},
            'runtime': {'name': 'CPython', 'version': '3.11.7', 'build': '3.11.7 (main) [GCC 12.2.0]'},
        },
        'breadcrumbs': {'values': [
            {'type': 'default', 'category': 'query', 'message': f'SELECT * FROM t WHERE id = {n}',
             'timestamp': time.time(), 'level': 'info'},
        ]},
        'tags': {'customer': f'c{n % 50}', 'region': 'eu'},
        'user': {'id': str(n % 200), 'ip_address': '10.0.0.1'},
        'extra': {'sys.argv': ['app.py', 'serve']},
        'modules': MODULES,
        'sdk': {'name': 'sentry.python', 'version': '2.75.0', 'integrations': ['argv', 'atexit', 'dedupe']},
    }


def envelope(n: int, fingerprints: int, public_key: str) -> bytes:
    payload = json.dumps(event(n, fingerprints), separators=(',', ':')).encode()
    header = {'event_id': json.loads(payload)['event_id'],
              'sent_at': time.strftime('%Y-%m-%dT%H:%M:%S.000000Z', time.gmtime()),
              'trace': {'environment': 'production', 'public_key': public_key}}
    item = {'type': 'event', 'content_type': 'application/json', 'length': len(payload)}
    raw = b'\n'.join([json.dumps(header).encode(), json.dumps(item).encode(), payload]) + b'\n'
    return raw


# -- load -------------------------------------------------------------------


def send_all(host: str, port: int, path: str, auth: str, bodies: list[bytes], threads: int) -> tuple[float, float]:
    """Post every body from `threads` keep-alive connections; return (first send, last answer)."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    failures: list[str] = []
    headers = {'Content-Type': 'application/x-sentry-envelope', 'Content-Encoding': 'gzip',
               'X-Sentry-Auth': auth, 'User-Agent': 'sentrail-bench/1'}
    start_gate = threading.Barrier(threads + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        start_gate.wait()
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            conn.request('POST', path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f'{response.status} {answer[:200]!r}')
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    finished = time.perf_counter()
    if failures:
        raise SystemExit(f'{len(failures)} requests failed, first: {failures[0]}')
    return started, finished


def issue_count(url: str, token: str, org: str, project: str) -> int:
    """Events counted by the issue list (one page: there are ~20 issues)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request('GET', f'/api/0/projects/{org}/{project}/issues/?query=&limit=100',
                 headers={'Authorization': f'Bearer {token}'})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f'issue list answered {response.status}: {body[:300]!r}')
    return sum(int(issue['count']) for issue in json.loads(body))


def wait_until_visible(url: str, token: str, org: str, project: str, expected: int) -> float:
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline:
        if issue_count(url, token, org, project) >= expected:
            return time.perf_counter()
        time.sleep(0.02)
    raise SystemExit('events did not become visible within 300 s')


def server_cpu(server_pid: int) -> float:
    """CPU seconds used so far by the server's worker processes (Linux /proc):
    a figure that noisy neighbours on the machine do not distort."""
    total = 0.0
    tick = os.sysconf('SC_CLK_TCK')
    children = Path(f'/proc/{server_pid}/task/{server_pid}/children')
    for pid in children.read_text().split() if children.exists() else []:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def load_average() -> str:
    return ' '.join(f'{value:.2f}' for value in os.getloadavg())


# -- main -------------------------------------------------------------------


def start_server(workdir: str, workers: int) -> tuple[subprocess.Popen, str, dict]:
    db_path = os.path.join(workdir, 'bench.db')
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    env = {**os.environ, 'SENTRAIL_DATABASE_URL': f'sqlite:///{db_path}', 'SENTRAIL_URL_PREFIX': url,
           'SENTRAIL_BENCH_ENDPOINTS': '1'}
    out = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'bootstrap', '--org', 'bench', '--team', 'bench',
                          '--project', 'bench', '--json'], env=env, check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    credentials = json.loads(out.strip().splitlines()[-1])
    server = subprocess.Popen([sys.executable, '-m', 'sentrail.cli', 'serve', '--port', str(port),
                               '--workers', str(workers)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return server, url, credentials
        except OSError:
            if server.poll() is not None:
                raise SystemExit('server exited: ' + server.stderr.read().decode()[-2000:])
            time.sleep(0.1)
    raise SystemExit('server did not start')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--events', type=int, default=2000)
    parser.add_argument('--threads', type=int, default=8)
    parser.add_argument('--fingerprints', type=int, default=20)
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server below is stopped
    with tempfile.TemporaryDirectory(prefix='sentrail-bench-') as workdir:
        server, url, credentials = start_server(workdir, args.workers)
        try:
            run(args, url, credentials, lambda: server_cpu(server.pid))
        finally:
            server.terminate()
            server.wait(10)


def run(args: argparse.Namespace, url: str, credentials: dict, cpu: Callable[[], float] = lambda: 0.0) -> None:
    dsn = urlsplit(credentials['dsn'])
    public_key, project_id = dsn.username, dsn.path.strip('/')
    host, port = dsn.hostname, dsn.port
    auth = f'Sentry sentry_key={public_key}, sentry_version=7, sentry_client=sentrail-bench/1'
    org, project, token = credentials['organization'], credentials['project']['slug'], credentials['auth_token']

    def bodies() -> list[bytes]:
        return [gzip.compress(envelope(n, args.fingerprints, public_key), 9) for n in range(args.events)]

    def timed(endpoint: str) -> tuple[float, float, float, float, float]:
        """Send fresh bodies to `endpoint`: (events/s, first send, last answer, server CPU and this client's
        CPU in ms per event)."""
        sent = bodies()
        cpu_before, client_before = cpu(), time.process_time()
        started, finished = send_all(host, port, f'/api/{project_id}/{endpoint}/', auth, sent, args.threads)
        return (args.events / (finished - started), started, finished, (cpu() - cpu_before) / args.events * 1000,
                (time.process_time() - client_before) / args.events * 1000)

    for endpoint in ('envelope-parse', 'envelope-floor'):  # each worker's threads and tables, before timing
        send_all(host, port, f'/api/{project_id}/{endpoint}/', auth, bodies()[:50], args.threads)
    raw_size = sum(len(gzip.decompress(b)) for b in bodies()[:100]) / 100
    parse_rate, _, _, parse_cpu, client_cpu = timed('envelope-parse')

    print(f'envelopes: {args.events} x {raw_size / 1024:.1f} kB JSON (gzip), {args.fingerprints} fingerprints, '
          f'{args.threads} client threads, {args.workers} workers, SQLite; '
          f'load average {load_average()} (the machine may be shared)')
    print(f'parse-only:   {parse_rate:8.0f} envelopes/s  (server CPU {parse_cpu:.2f} ms per envelope; '
          f'this client {client_cpu:.2f} ms per request)', flush=True)
    floor_rate, _, _, floor_cpu, _ = timed('envelope-floor')
    print(f'floor:        {floor_rate:8.0f} events/s  ({floor_rate / parse_rate:.1%} of parse-only, server CPU '
          f'{floor_cpu:.2f} ms per event: the envelope endpoint storing one scratch row per event, '
          f'no issues, no read models)', flush=True)

    cpu_before = cpu()
    accept_rate, started, accepted, _, _ = timed('envelope')
    print(f'accepted:     {accept_rate:8.0f} events/s  (last answer after {accepted - started:.2f} s)', flush=True)
    visible = wait_until_visible(url, token, org, project, args.events)
    end_to_end = args.events / (visible - started)
    ingest_cpu = (cpu() - cpu_before) / args.events * 1000
    print(f'end to end:   {end_to_end:8.0f} events/s  (all counted by the issue list after {visible - started:.2f} s; '
          f'server CPU {ingest_cpu:.2f} ms per event)')
    print(f'ratio:        {end_to_end / parse_rate:8.1%} of parse-only  (load average now {load_average()})')


if __name__ == '__main__':
    main()
