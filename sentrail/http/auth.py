"""Who is calling: organization API keys (Basic), user tokens (Bearer) and session
cookies, resolved against the read models, and the scopes each may use where."""
from __future__ import annotations

import base64
import binascii
import hmac
import threading
from dataclasses import dataclass, replace

import falcon
from sqlalchemy.engine import Row

from sentrail.domain.actor import Actor
from sentrail.domain.roles import ROLES, SCOPES, role_scopes
from sentrail.http.errors import forbidden, not_authenticated, not_found
from sentrail.projections import accounts, organizations
from sentrail.services import Services

SESSION_COOKIE = 'sentrailsession'
CSRF_COOKIE = 'sentrailcsrf'
CSRF_HEADER = 'X-CSRFToken'
UNSAFE = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})


@dataclass
class Auth:
    """The caller. `scopes` is None for a session (its scopes come from its role
    in each organization), the credential's scope list for keys and tokens."""

    kind: str = 'anonymous'
    user: Row | None = None
    api_key: Row | None = None
    token: Row | None = None
    session: Row | None = None
    scopes: frozenset[str] | None = None
    ip: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind != 'anonymous'

    @property
    def is_superuser(self) -> bool:
        """Superuser powers need a logged-in session: a leaked token or key of a
        superuser reaches no further than its owner's memberships."""
        return bool(self.kind == 'session' and self.user is not None and self.user.is_superuser)

    def actor(self) -> Actor:
        if self.api_key is not None:
            return Actor(kind='api_key', label=f'{self.api_key.label} (api key)',
                         credential_id=str(self.api_key.number), ip=self.ip)
        if self.user is not None:
            return Actor(kind='user', label=self.user.email, user_id=str(self.user.number),
                         credential_id=str(self.token.number) if self.token is not None else None, ip=self.ip)
        return Actor(kind='anonymous', label='anonymous', ip=self.ip)

    def visible_scopes(self) -> list[str]:
        if self.scopes is not None:
            return [s for s in SCOPES if s in self.scopes]
        return list(SCOPES) if self.is_superuser else []


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode('utf-8')
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise not_authenticated('Invalid basic header. Credentials not correctly base64 encoded') from None
    username, sep, password = decoded.partition(':')
    if not sep:
        raise not_authenticated('Invalid basic header. Credentials not correctly base64 encoded')
    return username, password


class CredentialMemo:
    """Keys and tokens this worker resolved before, because scripts and CLIs send
    the same one request after request. An entry holds only while the log's
    head is where it was when the key was looked up with the read models at
    that head: any write anywhere, a revocation included, forgets it."""

    SIZE = 1024

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, Auth]] = {}
        self.lock = threading.Lock()

    def get(self, header: str, head: int) -> Auth | None:
        entry = self.entries.get(header)
        return entry[1] if entry is not None and entry[0] == head else None

    def put(self, header: str, head: int, auth: Auth) -> None:
        with self.lock:
            if len(self.entries) >= self.SIZE:
                self.entries.clear()
            self.entries[header] = (head, auth)


class AuthMiddleware:
    """Resolves credentials for /api/0/ and applies the first gate: authenticated,
    and (for keys and tokens) holding one of the scopes the method needs."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.memo = CredentialMemo()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.max_body = self.services.config.max_body_bytes
        req.context.auth = Auth(ip=req.remote_addr)
        if not req.path.startswith('/api/0/'):
            return
        header = req.get_header('Authorization') or ''
        if header.partition(' ')[0].lower() in ('bearer', 'basic'):
            self._credential(req, header)
        if not req.context.auth.is_authenticated:
            with self.services.read() as conn:
                req.context.auth = self._session(conn, req)

    def _credential(self, req: falcon.Request, header: str) -> None:
        """A key or token: remembered while the read models are current and
        unchanged (the log state also serves the resource, see IngestedResource)."""
        head, slowest = req.context.log_state = self.services.log_state()
        current = head == slowest
        known = self.memo.get(header, head) if current else None
        if known is not None:
            req.context.auth = replace(known, ip=req.remote_addr)
            return
        scheme, _, credentials = header.partition(' ')
        with self.services.read() as conn:
            if scheme.lower() == 'bearer':
                req.context.auth = self._bearer(conn, credentials.strip(), req.remote_addr)
            else:
                req.context.auth = self._basic(conn, credentials, req.remote_addr)
        if current and req.context.auth.is_authenticated:
            self.memo.put(header, head, req.context.auth)

    def _bearer(self, conn, credentials: str, ip: str) -> Auth:  # type: ignore[no-untyped-def]
        if not credentials:
            raise not_authenticated('Invalid token header. No credentials provided.')
        if ' ' in credentials:
            raise not_authenticated('Invalid token header. Token string should not contain spaces.')
        token = accounts.token_by_secret(conn, credentials)
        if token is None or not hmac.compare_digest(token.token.encode(), credentials.encode()):
            raise not_authenticated('Invalid token')
        user = accounts.user_by_id(conn, token.user_id)
        if user is None or not user.is_active:
            raise not_authenticated('User inactive or deleted')
        return Auth(kind='token', user=user, token=token, scopes=frozenset(token.scopes), ip=ip)

    def _basic(self, conn, credentials: str, ip: str) -> Auth:  # type: ignore[no-untyped-def]
        if not credentials.strip():
            raise not_authenticated('Invalid basic header. No credentials provided.')
        if ' ' in credentials.strip():
            raise not_authenticated('Invalid basic header. Credentials string should not contain spaces.')
        username, password = _decode_basic(credentials)
        if password:
            return Auth(ip=ip)  # a login (POST auth/), not an API key
        key = organizations.api_key_by_secret(conn, username)
        if key is None or not hmac.compare_digest(key.key.encode(), username.encode()):
            raise not_authenticated('API key is not valid')
        if key.status != 0:
            raise not_authenticated('Key is disabled')
        return Auth(kind='api_key', api_key=key, scopes=frozenset(key.scopes), ip=ip)

    def _session(self, conn, req: falcon.Request) -> Auth:  # type: ignore[no-untyped-def]
        secret = req.cookies.get(SESSION_COOKIE)
        if not secret:
            return Auth(ip=req.remote_addr)
        session = accounts.session_by_secret(conn, secret)
        user = accounts.user_by_id(conn, session.user_id) if session is not None else None
        if session is None or user is None or not user.is_active:
            return Auth(ip=req.remote_addr)
        # Compared as bytes: compare_digest refuses str with non-ASCII characters.
        if req.method in UNSAFE and not hmac.compare_digest((req.get_header(CSRF_HEADER) or '').encode(),
                                                            session.csrf_token.encode()):
            raise forbidden('CSRF Failed: CSRF token missing or incorrect.')
        return Auth(kind='session', user=user, session=session, ip=req.remote_addr)

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: dict) -> None:
        if resource is None or req.method == 'OPTIONS' or getattr(resource, 'public', False):
            return
        method = 'GET' if req.method == 'HEAD' else req.method
        if not hasattr(resource, f'on_{method.lower()}'):
            return  # falcon answers 405
        auth: Auth = req.context.auth
        if not auth.is_authenticated:
            raise not_authenticated()
        needed = getattr(resource, 'scopes', {}).get(method)
        if needed is not None and auth.scopes is not None and not auth.scopes.intersection(needed):
            raise forbidden()


class Access:
    """The second gate: the caller's effective scopes within one organization."""

    def __init__(self, services: Services, auth: Auth) -> None:
        self.services = services
        self.auth = auth

    def member(self, conn, org: Row) -> Row | None:  # type: ignore[no-untyped-def]
        if self.auth.user is None:
            return None
        return organizations.membership(conn, org.id, self.auth.user.id)

    def scopes_in(self, conn, org: Row) -> frozenset[str]:  # type: ignore[no-untyped-def]
        """Key: its scopes in its own organization only. Token: its scopes cut down
        to the user's role. Session: the role's scopes. Superusers hold everything."""
        auth = self.auth
        if auth.api_key is not None:
            return auth.scopes if auth.api_key.organization_id == org.id else frozenset()
        if auth.user is None:
            return frozenset()
        member = self.member(conn, org)
        held = frozenset(SCOPES) if auth.is_superuser else role_scopes(member.role if member else None)
        return held & auth.scopes if auth.scopes is not None else held

    def require(self, conn, org: Row, needed: tuple[str, ...] | None) -> frozenset[str]:  # type: ignore[no-untyped-def]
        scopes = self.scopes_in(conn, org)
        if not scopes or (needed is not None and not scopes.intersection(needed)):
            raise forbidden()
        return scopes

    def team_ids(self, conn, org: Row) -> set[str] | None:  # type: ignore[no-untyped-def]
        """Teams the caller may act on; None means every team of the organization."""
        auth = self.auth
        if auth.api_key is not None or auth.is_superuser:
            return None
        member = self.member(conn, org)
        if member is None:
            return set()
        if ROLES[member.role]['is_global'] or org.flags.get('open_membership'):
            return None
        return organizations.team_ids_of_member(conn, member.id)

    def require_team(self, conn, org: Row, team_id: str) -> None:  # type: ignore[no-untyped-def]
        allowed = self.team_ids(conn, org)
        if allowed is not None and team_id not in allowed:
            raise forbidden()

    def organization(self, conn, slug: str, needed: tuple[str, ...] | None) -> Row:  # type: ignore[no-untyped-def]
        org = organizations.org_by_slug(conn, slug)
        if org is None:
            raise not_found()
        self.require(conn, org, needed)
        return org
