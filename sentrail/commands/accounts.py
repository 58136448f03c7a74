"""Users, personal tokens and sessions."""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sentrail.commands.application import Sentrail, new_secret
from sentrail.commands.bus import Outcome, handles, save
from sentrail.commands.passwords import hash_password
from sentrail.domain.actor import Actor
from sentrail.domain.credentials import digest
from sentrail.domain.errors import Conflict, Invalid
from sentrail.domain.roles import check_scopes
from sentrail.domain.user import ApiToken, Session, User, user_id_for_email


@dataclass(frozen=True)
class RegisterUser:
    email: str
    actor: Actor
    name: str = ''
    password: str | None = None
    is_superuser: bool = False


@dataclass(frozen=True)
class ChangePassword:
    user_id: UUID
    password: str
    actor: Actor


@dataclass(frozen=True)
class UpdateUser:
    user_id: UUID
    changes: dict
    actor: Actor


@dataclass(frozen=True)
class IssueToken:
    user_id: UUID
    actor: Actor
    scopes: list = field(default_factory=list)
    token: str | None = None


@dataclass(frozen=True)
class RevokeToken:
    token_id: UUID
    actor: Actor


@dataclass(frozen=True)
class StartSession:
    user_id: UUID
    secret: str
    csrf_token: str
    actor: Actor


@dataclass(frozen=True)
class EndSession:
    session_id: UUID
    actor: Actor


def normalize_email(email: object) -> str:
    if not isinstance(email, str) or '@' not in email or len(email) > 75 or any(c.isspace() for c in email):
        raise Invalid('Enter a valid email address.', field='email')
    return email.strip().lower()


@handles(RegisterUser)
def register_user(app: Sentrail, cmd: RegisterUser) -> Outcome:
    email = normalize_email(cmd.email)
    if app.find(user_id_for_email(email)) is not None:
        raise Conflict(f'A user with the email {email} already exists.')
    password_hash = hash_password(cmd.password) if cmd.password else None
    sequence, number = app.next_number('user')
    user = User(number=number, email=email, name=cmd.name or email, password_hash=password_hash,
                is_superuser=cmd.is_superuser, meta=cmd.actor.meta())
    return save(app, sequence, user, id=str(number), user_id=user.id)


@handles(ChangePassword)
def change_password(app: Sentrail, cmd: ChangePassword) -> Outcome:
    user = app.load(User, cmd.user_id)
    user.change_password(hash_password(cmd.password), cmd.actor.meta())
    return save(app, user, id=str(user.number))


@handles(UpdateUser)
def update_user(app: Sentrail, cmd: UpdateUser) -> Outcome:
    user = app.load(User, cmd.user_id)
    changes = dict(cmd.changes)
    if 'email' in changes:
        changes['email'] = normalize_email(changes['email'])
    changed = user.update(changes, cmd.actor.meta())
    return save(app, user, id=str(user.number), changed=changed)


@handles(IssueToken)
def issue_token(app: Sentrail, cmd: IssueToken) -> Outcome:
    user = app.load(User, cmd.user_id)
    scopes = check_scopes(list(cmd.scopes))
    sequence, number = app.next_number('api_token')
    token = ApiToken(number=number, user_id=user.id, token=cmd.token or new_secret(32), scopes=scopes,
                     meta=cmd.actor.meta())
    return save(app, sequence, token, id=str(number), token=token.token, token_id=token.id)


@handles(RevokeToken)
def revoke_token(app: Sentrail, cmd: RevokeToken) -> Outcome:
    token = app.load(ApiToken, cmd.token_id)
    token.delete(cmd.actor.meta())
    return save(app, token, id=str(token.number))


@handles(StartSession)
def start_session(app: Sentrail, cmd: StartSession) -> Outcome:
    app.load(User, cmd.user_id)
    session = Session(user_id=cmd.user_id, token_hash=digest(cmd.secret), csrf_token=cmd.csrf_token,
                      meta=cmd.actor.meta())
    return save(app, session, id=str(session.id))


@handles(EndSession)
def end_session(app: Sentrail, cmd: EndSession) -> Outcome:
    session = app.load(Session, cmd.session_id)
    session.delete(cmd.actor.meta())
    return save(app, session)
