"""`users/{member}/` (the caller's own account) and `api-tokens/` (their personal tokens)."""
from __future__ import annotations

import hmac
from uuid import UUID

import falcon
from sqlalchemy.engine import Row

from sentrail.commands.accounts import IssueToken, RevokeToken, UpdateUser
from sentrail.domain.roles import SCOPES
from sentrail.http import fields
from sentrail.http.auth import Auth
from sentrail.http.errors import FieldErrors, forbidden
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, created, ok
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.serializers.users import api_token, detailed_user
from sentrail.projections import accounts
from sentrail.services import Services

PROFILE_FIELDS = ('name', 'username', 'email')
NEW_PASSWORD_FIELDS = ('passwordNew', 'passwordVerify')


def own_user(auth: Auth, member: str) -> Row:
    """`me` or the caller's own id. Anyone else's account is refused, existing or not,
    and so is an API key, which acts as no user."""
    if auth.user is None or member not in ('me', str(auth.user.number)):
        raise forbidden()
    return auth.user


def new_password(body: dict, user: Row) -> tuple[str | None, str | None]:
    """(new, current) from Sentry's password form (`password` is the current one,
    `passwordNew` and `passwordVerify` the new one twice), or (None, None) when no
    new password is given."""
    if not any(name in body for name in NEW_PASSWORD_FIELDS):
        return None, None
    new = fields.string('passwordNew', body.get('passwordNew'))
    verify = fields.string('passwordVerify', body.get('passwordVerify'))
    if not hmac.compare_digest(new.encode(), verify.encode()):
        raise FieldErrors({'passwordVerify': ['The passwords you entered did not match.']})
    current = body.get('password')
    if user.password_hash:
        current = fields.string('password', current)
    return new, current if isinstance(current, str) else None


class UserResource(Resource):
    """Any token may read and edit its own user (Sentry's UserPermission checks no scope);
    a password change needs the current password whatever the credential."""

    api = Api(get=Op(returns=ok('DetailedUser')), put=Op(body='UserUpdate', returns=ok('DetailedUser')),
              path={'member': 'The caller\'s own user id, or `me`.'})

    def on_get(self, req: falcon.Request, resp: falcon.Response, member: str) -> None:
        resp.media = detailed_user(own_user(self.auth(req), member), is_self=True)

    def on_put(self, req: falcon.Request, resp: falcon.Response, member: str) -> None:
        auth = self.auth(req)
        user = own_user(auth, member)
        body = read_fields(req)
        changes = {name: body[name] for name in PROFILE_FIELDS if name in body}
        new, current = new_password(body, user)
        self.services.execute(UpdateUser(user_id=UUID(user.id), changes=changes, actor=auth.actor(),
                                         new_password=new, current_password=current))
        with self.services.read() as conn:
            resp.media = detailed_user(accounts.user_by_id(conn, user.id), is_self=True)


def token_owner(auth: Auth) -> Row:
    """A session or a Bearer token (Sentry allows the session only); never an API key."""
    if auth.user is None or auth.api_key is not None:
        raise forbidden()
    return auth.user


def within_caller(auth: Auth, scopes: list[str]) -> bool:
    """A Bearer token handles only tokens no stronger than itself, so a narrow token
    can neither mint nor read back a wider one."""
    return auth.scopes is None or set(scopes) <= auth.scopes


def requested_scopes(body: dict) -> list[str]:
    scopes = body.get('scopes')
    if scopes in (None, '', []):
        raise FieldErrors({'scopes': ['This field is required.']})
    if not isinstance(scopes, list):
        raise FieldErrors({'scopes': [f'Expected a list of items but got type "{type(scopes).__name__}".']})
    return [fields.choice('scopes', scope, SCOPES) for scope in scopes]


class ApiTokenResource(Resource):
    """The caller's personal auth tokens (a session or a token; never an API key)."""

    api = Api(
        get=Op(returns=ok(['ApiToken']), summary="List the caller's tokens."),
        post=Op(body='ApiTokenCreate', returns=created('ApiToken'), summary='Issue a token with these scopes.',
                links=(Link('/api/0/api-tokens/', {}, ('DELETE',), body={'token': '$response.body#/token'}),)),
        delete=Op(body='ApiTokenDelete', returns=NO_CONTENT, summary='Revoke the token given in the body.'),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        user = token_owner(auth)
        with self.services.read() as conn:
            rows = accounts.tokens_of_user(conn, user.id)
        resp.media = [api_token(row) for row in rows if within_caller(auth, row.scopes)]

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        user = token_owner(auth)
        scopes = requested_scopes(read_fields(req))
        if not within_caller(auth, scopes):
            raise forbidden()
        outcome = self.services.execute(IssueToken(user_id=UUID(user.id), scopes=scopes, actor=auth.actor()))
        with self.services.read() as conn:
            row = accounts.token_by_secret(conn, outcome.data['token'])
        resp.status = falcon.HTTP_201
        resp.media = api_token(row)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        """As in Sentry, a token that is not the caller's answers 204 and nothing changes."""
        auth = self.auth(req)
        user = token_owner(auth)
        token = read_fields(req).get('token')
        if not token or not isinstance(token, str):
            raise FieldErrors({'token': ''})
        with self.services.read() as conn:
            row = accounts.token_of_user(conn, user.id, token)
        if row is not None:
            if not within_caller(auth, row.scopes):
                raise forbidden()
            self.services.execute(RevokeToken(token_id=UUID(row.id), user_id=UUID(user.id), actor=auth.actor()))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/users/{member}/', UserResource(services)),
        ('/api/0/api-tokens/', ApiTokenResource(services)),
    ]
