"""Changing and deleting organization API keys (creating one is CreateApiKey, beside
the organization it belongs to)."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.apikey import ApiKey
from sentrail.domain.errors import NotFound


@dataclass(frozen=True)
class UpdateApiKey:
    """Only what Sentry's ApiKeySerializer accepts; None leaves a field alone."""

    organization_id: UUID
    api_key_id: UUID
    actor: Actor
    label: str | None = None
    scopes: list | None = None
    allowed_origins: str | None = None


@dataclass(frozen=True)
class DeleteApiKey:
    organization_id: UUID
    api_key_id: UUID
    actor: Actor


def load_key(app: Sentrail, organization_id: UUID, api_key_id: UUID) -> ApiKey:
    """A key of this organization only: another organization's key does not exist here."""
    key = app.load(ApiKey, api_key_id)
    if key.organization_id != organization_id:
        raise NotFound('The requested resource does not exist')
    return key


@handles(UpdateApiKey)
def update_api_key(app: Sentrail, cmd: UpdateApiKey) -> Outcome:
    key = load_key(app, cmd.organization_id, cmd.api_key_id)
    changed = key.edit(cmd.actor.meta(), label=cmd.label, scopes=cmd.scopes,
                       allowed_origins=cmd.allowed_origins)
    return save(app, key, id=str(key.number), changed=changed)


@handles(DeleteApiKey)
def delete_api_key(app: Sentrail, cmd: DeleteApiKey) -> Outcome:
    """The projection drops the key's row, so it stops authenticating as soon as
    the caller's catch-up has run."""
    key = load_key(app, cmd.organization_id, cmd.api_key_id)
    key.delete(cmd.actor.meta())
    return save(app, key, id=str(key.number))
