"""Changing and removing a project's client keys (creation lives with the project's creators)."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.commands.organizations import check_name
from sentrail.domain.actor import Actor
from sentrail.domain.apikey import ProjectKey, check_rate_limit, project_key_id
from sentrail.domain.errors import Invalid, NotFound

KEY_FIELDS = ('name', 'is_active', 'rate_limit')


@dataclass(frozen=True)
class UpdateProjectKey:
    """`changes` may hold name, is_active and rate_limit (None, or {count, window})."""

    project_id: UUID
    public: str
    changes: dict
    actor: Actor


@dataclass(frozen=True)
class DeleteProjectKey:
    project_id: UUID
    public: str
    actor: Actor


def load_key(app: Sentrail, project_id: UUID, public: str) -> ProjectKey:
    """The key, re-checked to belong to the project the caller named."""
    key = app.load(ProjectKey, project_key_id(public))
    if key.project_id != project_id:
        raise NotFound('The requested resource does not exist')
    return key


def key_changes(changes: dict) -> dict:
    unknown = sorted(set(changes) - set(KEY_FIELDS))
    if unknown:
        raise Invalid(f'Unknown field: {unknown[0]}')
    checked = dict(changes)
    if 'name' in checked:
        checked['name'] = check_name(checked['name'], 200)
    if 'is_active' in checked and not isinstance(checked['is_active'], bool):
        raise Invalid('Must be either true or false.', field='isActive')
    if 'rate_limit' in checked:
        checked['rate_limit'] = check_rate_limit(checked['rate_limit'])
    return checked


@handles(UpdateProjectKey)
def update_project_key(app: Sentrail, cmd: UpdateProjectKey) -> Outcome:
    key = load_key(app, cmd.project_id, cmd.public)
    changed = key.update(key_changes(cmd.changes), cmd.actor.meta())
    return save(app, key, id=key.public, changed=changed)


@handles(DeleteProjectKey)
def delete_project_key(app: Sentrail, cmd: DeleteProjectKey) -> Outcome:
    key = load_key(app, cmd.project_id, cmd.public)
    key.delete(cmd.actor.meta())
    return save(app, key, id=key.public)
