"""Users, their tokens and sessions: what authentication looks up on every request."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Connection, Integer, String, Table, delete, insert, update
from sqlalchemy.engine import Row
from sqlalchemy import select

from sentrail.domain.credentials import digest
from sentrail.domain.user import ApiToken, Session, User
from sentrail.projections.base import Projection, handles
from sentrail.projections.clock import ms
from sentrail.projections.schema import metadata

users = Table(
    'users', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('email', String(200), nullable=False, unique=True),
    Column('username', String(200), nullable=False),
    Column('name', String(200), nullable=False),
    Column('password_hash', String(300)),
    Column('is_superuser', Boolean, nullable=False, default=False),
    Column('is_active', Boolean, nullable=False, default=True),
    Column('date_joined', BigInteger, nullable=False),
    Column('last_login', BigInteger),
)

api_tokens = Table(
    'api_tokens', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('user_id', String(36), nullable=False, index=True),
    Column('token_hash', String(64), nullable=False, unique=True),
    Column('token', String(100), nullable=False),
    Column('scopes', JSON, nullable=False),
    Column('date_created', BigInteger, nullable=False),
)

sessions = Table(
    'sessions', metadata,
    Column('token_hash', String(64), primary_key=True),
    Column('id', String(36), nullable=False, unique=True),
    Column('user_id', String(36), nullable=False),
    Column('csrf_token', String(64), nullable=False),
    Column('date_created', BigInteger, nullable=False),
)


class AccountProjection(Projection):
    name = 'accounts'
    tables = (users, api_tokens, sessions)

    @handles(User.Registered)
    def registered(self, conn: Connection, e: User.Registered, position: int) -> None:
        conn.execute(insert(users).values(
            id=str(e.originator_id), number=e.number, email=e.email, username=e.email, name=e.name,
            password_hash=e.password_hash, is_superuser=e.is_superuser, date_joined=ms(e.timestamp),
        ))

    @handles(User.Updated)
    def user_updated(self, conn: Connection, e: User.Updated, position: int) -> None:
        fields = {k: e.changes[k] for k in ('email', 'username', 'name', 'is_active') if k in e.changes}
        if fields:
            conn.execute(update(users).where(users.c.id == str(e.originator_id)).values(**fields))

    @handles(User.PasswordChanged)
    def password_changed(self, conn: Connection, e: User.PasswordChanged, position: int) -> None:
        conn.execute(update(users).where(users.c.id == str(e.originator_id))
                     .values(password_hash=e.password_hash))

    @handles(ApiToken.Issued)
    def token_issued(self, conn: Connection, e: ApiToken.Issued, position: int) -> None:
        conn.execute(insert(api_tokens).values(
            id=str(e.originator_id), number=e.number, user_id=str(e.user_id),
            token_hash=digest(e.token), token=e.token, scopes=list(e.scopes),
            date_created=ms(e.timestamp),
        ))

    @handles(ApiToken.Deleted)
    def token_deleted(self, conn: Connection, e: ApiToken.Deleted, position: int) -> None:
        conn.execute(delete(api_tokens).where(api_tokens.c.id == str(e.originator_id)))

    @handles(Session.Started)
    def session_started(self, conn: Connection, e: Session.Started, position: int) -> None:
        conn.execute(insert(sessions).values(
            token_hash=e.token_hash, id=str(e.originator_id), user_id=str(e.user_id),
            csrf_token=e.csrf_token, date_created=ms(e.timestamp),
        ))
        conn.execute(update(users).where(users.c.id == str(e.user_id)).values(last_login=ms(e.timestamp)))

    @handles(Session.Deleted)
    def session_ended(self, conn: Connection, e: Session.Deleted, position: int) -> None:
        conn.execute(delete(sessions).where(sessions.c.id == str(e.originator_id)))


def user_by_id(conn: Connection, user_id: str) -> Row | None:
    return conn.execute(select(users).where(users.c.id == user_id)).first()


def user_by_number(conn: Connection, number: int) -> Row | None:
    return conn.execute(select(users).where(users.c.number == number)).first()


def user_by_email(conn: Connection, email: str) -> Row | None:
    return conn.execute(select(users).where(users.c.email == email.strip().lower())).first()


def token_by_secret(conn: Connection, token: str) -> Row | None:
    return conn.execute(select(api_tokens).where(api_tokens.c.token_hash == digest(token))).first()


def token_of_user(conn: Connection, user_id: str, token: str) -> Row | None:
    """The user's own token with this secret; None for anyone else's."""
    row = token_by_secret(conn, token)
    return row if row is not None and row.user_id == user_id else None


def tokens_of_user(conn: Connection, user_id: str) -> list[Row]:
    return conn.execute(select(api_tokens).where(api_tokens.c.user_id == user_id)
                        .order_by(api_tokens.c.number)).all()


def session_by_secret(conn: Connection, secret: str) -> Row | None:
    return conn.execute(select(sessions).where(sessions.c.token_hash == digest(secret))).first()
