"""Which client key (DSN) an ingestion request carries, and whether it may send.

The key comes from `X-Sentry-Auth` (or `Authorization: Sentry ...`) or from the
`sentry_key` query parameter browser SDKs use; it must be an active key of the
project in the URL (`/api/store/` takes the key's project).
"""
from __future__ import annotations

import hmac
import re
import threading
import time
from dataclasses import dataclass
from uuid import UUID

import falcon
from sqlalchemy.engine import Row

from sentrail.domain.actor import Actor
from sentrail.domain.ingest_payload import PayloadError, parse_auth
from sentrail.http.ingest_errors import DISABLED_KEY, INVALID_KEY, WRONG_PROJECT, rejected
from sentrail.projections.projects import project_key_by_public
from sentrail.services import Services

# What a key can look like at all; anything else is refused before a query
# (PostgreSQL rejects NUL bytes in parameters, and a 10 kB key helps nobody).
_KEY_RE = re.compile(r'^[\x21-\x7e]{1,64}$')


@dataclass(frozen=True)
class ClientKey:
    public: str
    project_id: UUID
    project_number: int
    rate_limit: dict | None

    def actor(self, ip: str | None) -> Actor:
        return Actor(kind='client_key', label=self.public, ip=ip)


def auth_fields(req: falcon.Request) -> dict:
    header = req.get_header('X-Sentry-Auth') or req.get_header('Authorization')
    try:
        return parse_auth(header, req.params)
    except PayloadError as error:
        raise rejected(falcon.HTTP_401, error.message) from None


class ClientKeys:
    """Client keys by public key, each remembered for `ttl` seconds in this process.

    Every event would otherwise pay a read-model query for a row that almost
    never changes; the price is that disabling or deleting a key takes up to
    `ttl` seconds to reach a worker that used it recently (Sentry's Relay
    caches project configs far longer). Unknown keys are not remembered, so
    a new key works at once."""

    def __init__(self, services: Services, ttl: float) -> None:
        self.services = services
        self.ttl = ttl
        self._rows: dict[str, tuple[float, Row]] = {}
        self._lock = threading.Lock()

    def get(self, public: str) -> Row | None:
        now = time.monotonic()
        cached = self._rows.get(public)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.services.read() as conn:
            row = project_key_by_public(conn, public)
        with self._lock:
            if row is None:
                self._rows.pop(public, None)
            elif self.ttl > 0:
                self._rows[public] = (now + self.ttl, row)
        return row


def authenticate(keys: ClientKeys, req: falcon.Request, project: str | None) -> ClientKey:
    """The request's client key, or a 401 (no or unknown key) / 403 (disabled, other project)."""
    fields = auth_fields(req)
    public, secret = fields['sentry_key'], fields['sentry_secret']
    if not _KEY_RE.match(public):
        raise rejected(falcon.HTTP_401, INVALID_KEY)
    row = keys.get(public)
    if row is None or (secret is not None and not hmac.compare_digest(secret.encode(), row.secret.encode())):
        raise rejected(falcon.HTTP_401, INVALID_KEY)
    if not row.is_active:
        raise rejected(falcon.HTTP_403, DISABLED_KEY)
    if project is not None and project != str(row.project_number):
        raise rejected(falcon.HTTP_403, WRONG_PROJECT)
    return ClientKey(public=row.public, project_id=UUID(row.project_id), project_number=row.project_number,
                     rate_limit=row.rate_limit)
