"""Every error leaves as JSON {"detail": ...} with Sentry's status; nothing else renders errors."""
from __future__ import annotations

import logging
import uuid

import falcon

from sentrail.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from sentrail.http.media import dumps

log = logging.getLogger('sentrail.http')

NOT_FOUND = 'The requested resource does not exist'
PERMISSION_DENIED = 'You do not have permission to perform this action.'
NOT_AUTHENTICATED = 'Authentication credentials were not provided.'


class FieldErrors(falcon.HTTPBadRequest):
    """A 400 in DRF's shape: {"field": ["message"]}."""

    def __init__(self, errors: dict) -> None:
        super().__init__()
        self.body = errors


class JSONError(falcon.HTTPError):
    """An error whose JSON body is given whole (ingestion uses {"detail", ...} plus headers)."""

    def __init__(self, status: str, body: dict, headers: dict | None = None) -> None:
        super().__init__(status, headers=headers)
        self.body = body


def not_authenticated(detail: str = NOT_AUTHENTICATED) -> falcon.HTTPUnauthorized:
    return falcon.HTTPUnauthorized(description=detail, headers={'WWW-Authenticate': 'xBasic realm="api"'})


def forbidden(detail: str = PERMISSION_DENIED) -> falcon.HTTPForbidden:
    return falcon.HTTPForbidden(description=detail)


def not_found(detail: str = NOT_FOUND) -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(description=detail)


def _default_detail(req: falcon.Request, error: falcon.HTTPError) -> str:
    if error.status_code == 405:
        return f"Method '{req.method}' not allowed."
    if error.status_code == 404:
        return NOT_FOUND
    if error.status_code == 413:
        return 'Request body is too large.'
    return error.title or 'Error'


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    body = getattr(error, 'body', None)
    if body is None:
        body = {'detail': error.description or _default_detail(req, error)}
    resp.data = dumps(body)
    resp.content_type = falcon.MEDIA_JSON


def handle_domain_error(req: falcon.Request, resp: falcon.Response, error: DomainError, params: dict) -> None:
    if isinstance(error, Invalid) and error.field:
        raise FieldErrors({error.field: [error.detail]})
    status = {NotFound: falcon.HTTP_404, Conflict: falcon.HTTP_409, Forbidden: falcon.HTTP_403,
              Invalid: falcon.HTTP_400}.get(type(error), falcon.HTTP_400)
    raise falcon.HTTPError(status, description=error.detail)


def handle_unexpected(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict) -> None:
    error_id = uuid.uuid4().hex
    log.exception('unhandled error %s on %s %s', error_id, req.method, req.path)
    resp.status = falcon.HTTP_500
    resp.content_type = falcon.MEDIA_JSON
    resp.data = dumps({'detail': 'Internal Error', 'errorId': error_id})


def install(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(DomainError, handle_domain_error)
