"""`/api/0/` (who am I) and `/api/0/auth/` (session log in and out)."""
from __future__ import annotations

import base64
import binascii
import secrets
from uuid import UUID

import falcon

from sentrail.commands.accounts import EndSession, StartSession
from sentrail.commands.passwords import verify_password
from sentrail.domain.actor import Actor
from sentrail.http.auth import CSRF_COOKIE, SESSION_COOKIE
from sentrail.http.errors import not_authenticated
from sentrail.http.openapi import ANYONE, NO_CONTENT, Api, Op, ok
from sentrail.http.payload import read_json
from sentrail.http.resource import Resource
from sentrail.http.serializers.users import user as serialize_user
from sentrail.projections import accounts
from sentrail.services import Services


class RootResource(Resource):
    """The API's version, and who the credentials sent (if any) belong to."""

    public = True
    api = Api(get=Op(returns=ok('Root')), security=ANYONE, tag='root')

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        resp.media = {
            'version': '0',
            'auth': {'scopes': auth.visible_scopes()} if auth.scopes is not None else None,
            'user': serialize_user(auth.user, is_self=True) if auth.user is not None else None,
        }


def _login_credentials(req: falcon.Request) -> tuple[str, str]:
    scheme, _, value = (req.get_header('Authorization') or '').partition(' ')
    if scheme.lower() == 'basic':
        try:
            username, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(':')
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise not_authenticated('Invalid basic header. Credentials not correctly base64 encoded') from None
        return username, password
    body = read_json(req)
    username, password = body.get('username') or body.get('email'), body.get('password')
    if not isinstance(username, str) or not isinstance(password, str):
        raise not_authenticated()
    return username, password


class AuthResource(Resource):
    """Session log in (HTTP Basic email:password, or a JSON body), current user, log out."""

    public = True
    api = Api(
        get=Op(returns=ok('User'), summary='The logged-in user (400 when there is none).'),
        post=Op(body='Login', returns=ok('User'),
                summary='Log in: HTTP Basic email:password (or a JSON body); sets the session cookie.'),
        delete=Op(returns=NO_CONTENT, summary='Log out.'),
        security=ANYONE, tag='root',
    )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        if auth.user is None:
            raise falcon.HTTPBadRequest(description='You are not logged in.')
        resp.media = serialize_user(auth.user, is_self=True)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        username, password = _login_credentials(req)
        with self.services.read() as conn:
            user = accounts.user_by_email(conn, username) if '\x00' not in username else None  # PostgreSQL refuses NUL
        if user is None or not user.is_active or not verify_password(password, user.password_hash):
            raise not_authenticated('Invalid username or password')
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        actor = Actor(kind='user', label=user.email, user_id=str(user.number), ip=req.remote_addr)
        self.services.execute(StartSession(user_id=UUID(user.id), secret=secret, csrf_token=csrf, actor=actor))
        secure = self.services.config.url_prefix.startswith('https')
        resp.set_cookie(SESSION_COOKIE, secret, http_only=True, same_site='Lax', secure=secure, path='/')
        resp.set_cookie(CSRF_COOKIE, csrf, http_only=False, same_site='Lax', secure=secure, path='/')
        resp.media = serialize_user(user, is_self=True)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        if auth.session is not None:
            self.services.execute(EndSession(session_id=UUID(auth.session.id), actor=auth.actor()))
        resp.unset_cookie(SESSION_COOKIE, path='/')
        resp.unset_cookie(CSRF_COOKIE, path='/')
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [('/api/0/', RootResource(services)), ('/api/0/auth/', AuthResource(services))]
