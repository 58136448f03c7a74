"""People who log in, their personal API tokens and their browser sessions."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.identity import natural_id


class User(Entity):
    """A person; identified by a unique email.

    The aggregate id derives from the email the account registered with, so two
    concurrent registrations of one address collide in the event store. A later
    change of email cannot move the id, so uniqueness of the current address is
    kept by claims (see commands/accounts.py): every address an account has held
    stays reserved to it, the registration address because the id is built from
    it, the others so that one rule covers them all.
    """

    class Registered(Aggregate.Created):
        number: int
        email: str
        name: str
        password_hash: str | None
        is_superuser: bool
        meta: dict

    @event(Registered)
    def __init__(self, number: int, email: str, name: str, password_hash: str | None,
                 is_superuser: bool, meta: dict) -> None:
        self.number = number
        self.email = email
        self.username = email
        self.name = name
        self.password_hash = password_hash
        self.is_superuser = is_superuser

    @staticmethod
    def create_id(number: int, email: str, **_: object) -> UUID:
        return user_id_for_email(email)

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        meta: dict

    @event(PasswordChanged)
    def change_password(self, password_hash: str, meta: dict) -> None:
        self.password_hash = password_hash


def user_id_for_email(email: str) -> UUID:
    return natural_id('user', email.strip().lower())


class ApiToken(Entity):
    """A personal Bearer token; it acts as its user, cut down to its scopes."""

    class Issued(Aggregate.Created):
        number: int
        user_id: UUID
        token: str
        scopes: list
        meta: dict

    @event(Issued)
    def __init__(self, number: int, user_id: UUID, token: str, scopes: list, meta: dict) -> None:
        self.number = number
        self.user_id = user_id
        self.token = token
        self.scopes = scopes


class Session(Entity):
    """A logged-in browser; only the hash of its cookie value is kept."""

    class Started(Aggregate.Created):
        user_id: UUID
        token_hash: str
        csrf_token: str
        meta: dict

    @event(Started)
    def __init__(self, user_id: UUID, token_hash: str, csrf_token: str, meta: dict) -> None:
        self.user_id = user_id
        self.token_hash = token_hash
        self.csrf_token = csrf_token

    @staticmethod
    def create_id(user_id: UUID, token_hash: str, **_: object) -> UUID:
        return natural_id('session', token_hash)
