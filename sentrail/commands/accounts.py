"""Users, personal tokens and sessions."""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sentrail.commands.application import Sentrail, new_secret
from sentrail.commands.bus import Outcome, handles, save
from sentrail.commands.passwords import hash_password, verify_password
from sentrail.domain.actor import Actor
from sentrail.domain.credentials import digest
from sentrail.domain.errors import Conflict, Invalid, NotFound
from sentrail.domain.roles import check_scopes
from sentrail.domain.slugs import SlugClaim, claim_id
from sentrail.domain.user import ApiToken, Session, User, user_id_for_email

EMAIL_SCOPE = 'user-email'
USERNAME_SCOPE = 'user-username'
MAX_USERNAME = 128
MIN_PASSWORD, MAX_PASSWORD = 8, 256


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
    """`changes` may hold name, username and email. A `new_password` is set only
    when `current_password` matches (or the account has no password yet)."""

    user_id: UUID
    changes: dict
    actor: Actor
    new_password: str | None = None
    current_password: str | None = None


@dataclass(frozen=True)
class IssueToken:
    user_id: UUID
    actor: Actor
    scopes: list = field(default_factory=list)
    token: str | None = None


@dataclass(frozen=True)
class RevokeToken:
    """With `user_id`, only that user's token is revoked (anyone else's is NotFound)."""

    token_id: UUID
    actor: Actor
    user_id: UUID | None = None


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


def check_username(username: object) -> str:
    if not isinstance(username, str) or not username.strip():
        raise Invalid('This field is required.', field='username')
    if len(username) > MAX_USERNAME or any(c.isspace() for c in username):
        raise Invalid(f'Enter a valid username of at most {MAX_USERNAME} characters, without spaces.',
                      field='username')
    return username


def claim_email(app: Sentrail, email: str, user_id: UUID) -> SlugClaim:
    """Reserve `email` for the account; Conflict when another account holds it.

    An account registered with an address owns it through its aggregate id; an
    address taken later is held by a claim. Registration writes both, so a
    registration and an email change racing for one address collide on the claim.
    """
    holder = app.find(user_id_for_email(email))
    if isinstance(holder, User) and holder.id != user_id:
        raise Conflict(f'A user with the email {email} already exists.')
    return app.claim_slug(EMAIL_SCOPE, email, user_id)


def user_with_email(app: Sentrail, email: str) -> User | None:
    """The account whose current email this is, wherever its aggregate id came from
    (its claim after an email change, its id when it never changed)."""
    claim = app.find(claim_id(EMAIL_SCOPE, email))
    candidates = [claim.owner_id] if isinstance(claim, SlugClaim) and claim.owner_id else []
    for user in map(app.find, [*candidates, user_id_for_email(email)]):
        if isinstance(user, User) and not user.deleted and user.email == email:
            return user
    return None


def claim_username(app: Sentrail, username: str, user_id: UUID) -> SlugClaim:
    """Usernames are unique regardless of case, as Sentry's are."""
    return app.claim_slug(USERNAME_SCOPE, username.lower(), user_id)


@handles(RegisterUser)
def register_user(app: Sentrail, cmd: RegisterUser) -> Outcome:
    email = normalize_email(cmd.email)
    if app.find(user_id_for_email(email)) is not None:
        raise Conflict(f'A user with the email {email} already exists.')
    password_hash = hash_password(cmd.password) if cmd.password else None
    sequence, number = app.next_number('user')
    user = User(number=number, email=email, name=cmd.name or email, password_hash=password_hash,
                is_superuser=cmd.is_superuser, meta=cmd.actor.meta())
    try:
        claims = [claim_email(app, email, user.id), claim_username(app, email, user.id)]
    except Conflict:
        raise Conflict(f'A user with the email {email} already exists.') from None
    return save(app, sequence, user, *claims, id=str(number), user_id=user.id)


@handles(ChangePassword)
def change_password(app: Sentrail, cmd: ChangePassword) -> Outcome:
    user = app.load(User, cmd.user_id)
    user.change_password(hash_password(cmd.password), cmd.actor.meta())
    return save(app, user, id=str(user.number))


def profile_changes(user: User, changes: dict) -> dict:
    """Validated changes; an account whose username is its email keeps the two
    together when only the email changes."""
    changes = {k: v for k, v in changes.items() if k in ('name', 'username', 'email')}
    if 'email' in changes:
        changes['email'] = normalize_email(changes['email'])
        if 'username' not in changes and user.username == user.email:
            changes['username'] = changes['email']
    if 'username' in changes:
        changes['username'] = check_username(changes['username'])
    if 'name' in changes and not isinstance(changes['name'], str):
        raise Invalid('Not a valid string.', field='name')
    if len(changes.get('name', '')) > 200:
        raise Invalid('Ensure this field has no more than 200 characters.', field='name')
    return changes


def claims_for(app: Sentrail, user: User, changes: dict) -> list:
    """Claim a new email (kept for good) and a new username (the old one is released)."""
    touched: list = []
    if changes.get('email', user.email) != user.email:
        try:
            touched.append(claim_email(app, changes['email'], user.id))
        except Conflict:
            raise Invalid('That email address is already in use.', field='email') from None
    username = changes.get('username', user.username)
    if username.lower() != user.username.lower():
        try:
            touched.append(claim_username(app, username, user.id))
        except Conflict:
            raise Invalid('That username is already in use.', field='username') from None
        touched.append(app.release_slug(USERNAME_SCOPE, user.username.lower()))
    return touched


def check_current_password(user: User, password: str | None) -> None:
    if user.password_hash and not verify_password(password or '', user.password_hash):
        raise Invalid('The password you entered is not correct.', field='password')


def check_new_password(password: str) -> str:
    """Django's minimum-length rule and message; the cap keeps hashing cheap."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f'This password is too short. It must contain at least {MIN_PASSWORD} characters.',
                      field='passwordNew')
    if len(password) > MAX_PASSWORD:
        raise Invalid(f'This password is too long. It must contain at most {MAX_PASSWORD} characters.',
                      field='passwordNew')
    return password


@handles(UpdateUser)
def update_user(app: Sentrail, cmd: UpdateUser) -> Outcome:
    user = app.load(User, cmd.user_id)
    changes = profile_changes(user, cmd.changes)
    touched = claims_for(app, user, changes)
    if cmd.new_password is not None:
        check_new_password(cmd.new_password)
        check_current_password(user, cmd.current_password)
    meta = cmd.actor.meta()
    changed = user.update(changes, meta)
    if cmd.new_password is not None:
        user.change_password(hash_password(cmd.new_password), meta)
    return save(app, user, *touched, id=str(user.number), changed=changed)


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
    if cmd.user_id is not None and token.user_id != cmd.user_id:
        raise NotFound('The requested resource does not exist')
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
