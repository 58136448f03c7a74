"""Renaming and deleting teams (creation lives with the organization's other creators)."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.commands.organizations import check_name, project_scope, team_scope
from sentrail.domain.actor import Actor
from sentrail.domain.errors import Conflict, Invalid, NotFound
from sentrail.domain.project import Project
from sentrail.domain.slugs import SlugClaim, check_slug
from sentrail.domain.team import Team


@dataclass(frozen=True)
class UpdateTeam:
    team_id: UUID
    changes: dict
    actor: Actor


@dataclass(frozen=True)
class DeleteTeam:
    """`project_ids` are the team's projects as the caller saw them; each is
    re-checked on the write side and deleted with the team, as Sentry does."""

    team_id: UUID
    actor: Actor
    project_ids: tuple = ()


def rename_slug(app: Sentrail, scope: str, owner_id: UUID, old: str, new: object) -> list[SlugClaim | None]:
    """Claim the new slug and release the old one; both go into the owner's save."""
    slug = check_slug(new)
    try:
        claimed = app.claim_slug(scope, slug, owner_id)
    except Conflict:
        raise Invalid(f'The slug "{slug}" is already in use.', field='slug') from None
    return [claimed, app.release_slug(scope, old)]


@handles(UpdateTeam)
def update_team(app: Sentrail, cmd: UpdateTeam) -> Outcome:
    team = app.load(Team, cmd.team_id)
    changes = dict(cmd.changes)
    touched: list = []
    if 'name' in changes:
        changes['name'] = check_name(changes['name'], 200)
    if 'slug' in changes and changes['slug'] != team.slug:
        touched = rename_slug(app, team_scope(team.organization_id), team.id, team.slug, changes['slug'])
    changed = team.update(changes, cmd.actor.meta())
    return save(app, team, *touched, id=str(team.number), changed=changed)


@handles(DeleteTeam)
def delete_team(app: Sentrail, cmd: DeleteTeam) -> Outcome:
    team = app.load(Team, cmd.team_id)
    meta = cmd.actor.meta()
    removed: list = []
    for project_id in dict.fromkeys(cmd.project_ids):
        try:
            project = app.load(Project, UUID(str(project_id)))
        except NotFound:
            continue
        if project.team_id != team.id:
            continue  # moved to another team meanwhile: it survives
        project.delete(meta)
        removed += [project, app.release_slug(project_scope(project.organization_id), project.slug)]
    team.delete(meta)
    return save(app, team, app.release_slug(team_scope(team.organization_id), team.slug), *removed,
                id=str(team.number), projects=len(removed) // 2)
