"""JSON in and out with orjson, as Sentry's clients expect (application/json)."""
from __future__ import annotations

import orjson
from falcon import media


def dumps(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def json_handler() -> media.JSONHandler:
    return media.JSONHandler(dumps=lambda v: dumps(v).decode(), loads=orjson.loads)
