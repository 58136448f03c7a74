"""Client-key rate limits (`rateLimit: {count, window}`), counted in the
database so every worker and machine shares one fixed window per key."""
from __future__ import annotations

import math

import falcon

from sentrail.http.ingest_auth import ClientKey
from sentrail.http.ingest_errors import RATE_LIMITED, rejected
from sentrail.projections import ratelimits
from sentrail.services import Services


def enforce(services: Services, key: ClientKey, events: int, now: float) -> None:
    """Count `events` against the key's window; past `count`, answer 429 with
    the seconds left in the window (Retry-After, and X-Sentry-Rate-Limits
    with no category, so SDKs back off everything). As in Sentry (and the key
    serializer), a limit counts only when both `count` and `window` are non-zero."""
    limit = key.rate_limit
    if not events or not limit or not limit.get('count') or not limit.get('window'):
        return
    window = int(limit['window'])
    start = int(now // window) * window
    with services.writer.begin() as conn:
        seen = ratelimits.hit(conn, key.public, start, events)
    if seen > int(limit['count']):
        retry_after = str(max(1, math.ceil(start + window - now)))
        raise rejected(falcon.HTTP_429, RATE_LIMITED,
                       {'Retry-After': retry_after, 'X-Sentry-Rate-Limits': f'{retry_after}::key'})
