"""How ingestion says no: Sentry's statuses, {"detail": ...} and the
X-Sentry-Error header that raven (and the SDK debug logs) read."""
from __future__ import annotations

import falcon

from sentrail.domain.ingest_payload import PayloadError, PayloadTooLarge
from sentrail.http.errors import JSONError

MISSING_AUTH = 'Unable to find authentication information'
INVALID_KEY = 'Invalid api key'
DISABLED_KEY = 'API key is disabled'
WRONG_PROJECT = 'The client key does not belong to the project in the URL'
RATE_LIMITED = 'Creation of this event was denied due to rate limiting'
TOO_LARGE = 'Payload too large'
UNAVAILABLE = 'The event could not be stored right now; please retry'
RETRY_AFTER_SECONDS = 5


def rejected(status: str, message: str, headers: dict | None = None) -> JSONError:
    return JSONError(status, {'detail': message}, {'X-Sentry-Error': message, **(headers or {})})


def bad_payload(error: PayloadError) -> JSONError:
    status = falcon.HTTP_413 if isinstance(error, PayloadTooLarge) else falcon.HTTP_400
    return rejected(status, error.message)


def unavailable() -> JSONError:
    """Recording took too long or the store kept refusing. Nothing promised:
    the event may still be stored, and a retry with its event_id is stored once."""
    return rejected(falcon.HTTP_503, UNAVAILABLE, {'Retry-After': str(RETRY_AFTER_SECONDS)})
