"""Event ingestion: `/api/{project_id}/store/`, `/api/{project_id}/envelope/`
and the legacy `/api/store/`, outside /api/0/ and authenticated by client key.

Accepted events are recorded by the process's ingestion queue, which commits
whatever requests are waiting as one batch (sentrail.http.ingest_queue) and
answers each once its events are durable (503 with Retry-After if that takes
too long); the read models follow in the background (Services.Follower).
Envelope items other than `event` (transactions, sessions, client reports,
check-ins, attachments, user reports, unknown types) are accepted and
dropped: the management API has nothing that shows them.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import falcon
from eventsourcing.persistence import OperationalError

from sentrail.commands.ingest import Grouping, IngestEvent
from sentrail.commands.ingest_floor import FloorRecorder
from sentrail.domain.errors import Conflict
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.domain.ingest_payload import (PayloadError, PayloadTooLarge, decode_body, parse_envelope,
                                            parse_json)
from sentrail.http.ingest_auth import ClientKey, ClientKeys, authenticate
from sentrail.http.ingest_errors import TOO_LARGE, bad_payload, rejected, unavailable
from sentrail.http.ingest_queue import IngestQueue, Unavailable
from sentrail.http.openapi import CLIENT_KEY, Api, Op, ok
from sentrail.http.payload import read_body
from sentrail.http.ratelimit import enforce
from sentrail.http.resource import Resource
from sentrail.services import Services

ALLOW_HEADERS = ('X-Sentry-Auth, X-Requested-With, Origin, Accept, Content-Type, Content-Encoding, '
                 'Authentication, Authorization, sentry-trace, baggage')
EXPOSE_HEADERS = 'X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After'


@dataclass
class Received:
    """What a request body holds: the raw events to ingest and the id to answer
    with when there is none (an envelope's header id)."""

    events: list[dict]
    fallback_id: str | None = None


def cors_headers(req: falcon.Request) -> dict:
    """Browser SDKs post cross-origin; the answer must let them read it."""
    origin = req.get_header('Origin')
    if not origin:
        return {}
    return {'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSE_HEADERS,
            'Vary': 'Origin'}


def preflight_headers(req: falcon.Request) -> dict:
    return {
        'Access-Control-Allow-Origin': req.get_header('Origin') or '*',
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
        'Access-Control-Expose-Headers': EXPOSE_HEADERS,
        'Access-Control-Max-Age': '3600',
    }


def read_limited(req: falcon.Request, limit: int) -> bytes:
    try:
        return read_body(req, limit)
    except falcon.HTTPContentTooLarge:
        raise rejected(falcon.HTTP_413, f'{TOO_LARGE} (limit is {limit} bytes)') from None


def decoded(req: falcon.Request, limit: int) -> bytes:
    """The body with its transport encoding undone, at most `limit` bytes either way."""
    return decode_body(read_limited(req, limit), req.get_header('Content-Encoding'), max_size=limit)


def hex_id(value: object) -> str | None:
    """An envelope header's event_id (32 hex or hyphenated), as Sentry answers ids."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value).hex
    except ValueError:
        return None


def envelope_events(data: bytes, max_event: int) -> Received:
    """The envelope's `event` items; the header's event_id fills a missing one."""
    header, items = parse_envelope(data)
    events: list[dict] = []
    for item_header, payload in items:
        if item_header['type'] != 'event':
            continue
        if len(payload) > max_event:
            raise PayloadTooLarge(f'Event too large (limit is {max_event} bytes)')
        event = parse_json(payload)
        if 'event_id' not in event and 'event_id' in header:
            event = {**event, 'event_id': header['event_id']}
        events.append(event)
    return Received(events=events, fallback_id=hex_id(header.get('event_id')))


class IngestResource(Resource):
    """What store and envelope share: CORS, client-key auth, rate limits, recording."""

    public = True

    def __init__(self, services: Services, keys: ClientKeys, queue: IngestQueue) -> None:
        super().__init__(services)
        self.keys = keys
        self.queue = queue

    def received(self, req: falcon.Request) -> Received:
        raise NotImplementedError

    def on_options(self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None) -> None:
        resp.set_headers(preflight_headers(req))

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None) -> None:
        resp.set_headers(cors_headers(req))  # kept on error answers too
        key = authenticate(self.keys, req, project_id)
        try:
            received = self.received(req)
        except PayloadError as error:
            raise bad_payload(error) from None
        now = time.time()
        events = [normalize_event(raw, received_at=now, project_id=key.project_number,
                                  max_string=self.services.config.ingest_max_string, client_ip=req.remote_addr)
                  for raw in received.events]
        enforce(self.services, key, len(events), now)
        self.record(key, events, req.remote_addr)
        answer_id = events[0]['event_id'] if events else received.fallback_id
        resp.media = {'id': answer_id} if answer_id else {}

    def record(self, key: ClientKey, events: list[dict], ip: str | None) -> None:
        """Wait until the events are committed with whatever else is queued (a
        repeated event_id is stored once and still answered 200)."""
        actor = key.actor(ip)
        try:
            self.queue.submit([IngestEvent(project_id=key.project_id, project_number=key.project_number, data=event,
                                           actor=actor, grouping=Grouping.of(event)) for event in events])
        except (Unavailable, Conflict, OperationalError):
            raise unavailable() from None


class StoreResource(IngestResource):
    """One event as JSON: plain, gzip, deflate (raven's zlib), br or legacy base64+zlib."""

    api = Api(post=Op(body='EventPayload', returns=ok('IngestAccepted'), summary='Store one event.'),
              options=Op(returns=ok(None), summary='CORS preflight.'),
              security=CLIENT_KEY, tag='ingest')

    def received(self, req: falcon.Request) -> Received:
        return Received(events=[parse_json(decoded(req, self.services.config.max_event_bytes))])


class EnvelopeResource(IngestResource):
    """An envelope: a header line, then items (only `event` items are kept)."""

    api = Api(post=Op(body='Envelope', body_types=('application/x-sentry-envelope', 'text/plain'),
                      returns=ok('IngestAccepted'), summary='Send an envelope.'),
              options=Op(returns=ok(None), summary='CORS preflight.'),
              security=CLIENT_KEY, tag='ingest')

    def received(self, req: falcon.Request) -> Received:
        config = self.services.config
        return envelope_events(decoded(req, config.max_envelope_bytes), config.max_event_bytes)


class EnvelopeParseResource(Resource):
    """Benchmark yardstick (SENTRAIL_BENCH_ENDPOINTS=1 only): decompress and
    parse an envelope like the real endpoint, then throw it away."""

    public = True

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        config = self.services.config
        try:
            received = envelope_events(decoded(req, config.max_envelope_bytes), config.max_event_bytes)
        except PayloadError as error:
            raise bad_payload(error) from None
        answer_id = hex_id(received.events[0].get('event_id')) if received.events else received.fallback_id
        resp.media = {'id': answer_id} if answer_id else {}


def routes(services: Services) -> list[tuple[str, Resource]]:
    keys = ClientKeys(services, services.config.client_key_ttl)
    queue = IngestQueue(services)
    found: list[tuple[str, Resource]] = [
        ('/api/{project_id}/store/', StoreResource(services, keys, queue)),
        ('/api/{project_id}/envelope/', EnvelopeResource(services, keys, queue)),
        ('/api/store/', StoreResource(services, keys, queue)),
    ]
    if services.config.bench_endpoints:
        floor = IngestQueue(services, recorder=floor_recorder)
        found += [('/api/{project_id}/envelope-parse/', EnvelopeParseResource(services)),
                  ('/api/{project_id}/envelope-floor/', EnvelopeResource(services, keys, floor))]
    return found


def floor_recorder(services: Services) -> FloorRecorder:
    """Benchmark yardstick (SENTRAIL_BENCH_ENDPOINTS=1 only): the envelope
    endpoint itself, recording each event as one scratch row (commands.ingest_floor)."""
    return FloorRecorder(services.app.recorder.datastore.engine, services.write_turn.held)
