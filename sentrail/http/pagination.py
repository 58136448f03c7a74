"""Cursor and page-size parameters in, Sentry's exact `Link` header out.

sentry-cli parses the Link header itself and follows `next` only when
`results="true"`, using the `cursor` attribute, so the bytes must match Sentry's.
"""
from __future__ import annotations

from typing import Any
from typing import Callable
from urllib.parse import parse_qsl
from urllib.parse import quote

import falcon
from sqlalchemy import Connection
from sqlalchemy import ColumnElement
from sqlalchemy import Select

from sentrail.projections.keyset import Cursor
from sentrail.projections.keyset import InvalidCursor
from sentrail.projections.keyset import Page
from sentrail.projections.keyset import paginate


def link_header(url_prefix: str, path: str, params: list[tuple[str, str]], page: Page) -> str:
    """Build `Link` from the request's own URL minus its cursor, previous first.

    `path` is the decoded request path; it is quoted like the parameters (safe
    '/'), as Sentry does. Repeated parameters are all kept, in order. With no
    other parameters the URL ends in `?`, hence Sentry's `?&cursor=`.
    """
    query = '&'.join(
        f'{quote(name, safe="/")}={quote(value, safe="/")}'
        for name, value in params
        if name != 'cursor'
    )
    uri = f'{url_prefix.rstrip("/")}{quote(path, safe="/")}?{query}'
    return ', '.join((_link(uri, 'previous', page.prev), _link(uri, 'next', page.next)))


def _link(uri: str, rel: str, cursor: Cursor) -> str:
    results = 'true' if cursor.has_results else 'false'
    return f'<{uri}&cursor={cursor}>; rel="{rel}"; results="{results}"; cursor="{cursor}"'


def page_size(
    req: falcon.Request, name: str = 'per_page', default: int = 100, maximum: int = 100,
) -> int:
    """Read the page size, refusing nonsense with Sentry's 400 messages.

    The issue list's `limit` follows Sentry 8.22 instead: 'invalid limit' for a
    non-integer (or a size below 1), and a value above `maximum` is clamped.
    """
    text = req.get_param(name)
    if text is None:
        return default
    try:
        size = int(text)
    except ValueError:
        size = 0
    if name == 'limit':
        if size < 1:
            raise falcon.HTTPBadRequest(description='invalid limit')
        return min(size, maximum)
    if size < 1:
        raise falcon.HTTPBadRequest(description=f'Invalid {name} parameter.')
    if size > maximum:
        raise falcon.HTTPBadRequest(description=f'Invalid {name} value. Cannot exceed {maximum}.')
    return size


def cursor_param(req: falcon.Request) -> Cursor | None:
    """The request's cursor, None for the first page (sentry-cli sends `cursor=`)."""
    try:
        return Cursor.parse(req.get_param('cursor'))
    except InvalidCursor:
        raise falcon.HTTPBadRequest(description='Invalid cursor parameter.') from None


def set_link(resp: falcon.Response, req: falcon.Request, url_prefix: str, page: Page) -> None:
    """Answer with Link built from the raw query string, which keeps repeated params in order."""
    params = parse_qsl(req.query_string, keep_blank_values=True)
    resp.set_header('Link', link_header(url_prefix, req.path, params, page))


def respond_with_page(
    req: falcon.Request, resp: falcon.Response, url_prefix: str, conn: Connection, stmt: Select[Any],
    key: ColumnElement[Any], serialize: Callable[[Any], dict], *, descending: bool = True,
    tiebreak: ColumnElement[Any] | None = None, size_param: str = 'per_page',
) -> Page:
    """The usual list answer: one keyset page of `stmt`, serialized, with its Link."""
    page = paginate(conn, stmt, key, descending=descending, cursor=cursor_param(req),
                    limit=page_size(req, size_param), tiebreak=tiebreak)
    set_link(resp, req, url_prefix, page)
    resp.media = [serialize(row) for row in page.rows]
    return page
