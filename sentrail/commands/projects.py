"""Changing, moving, bookmarking and deleting projects (creation lives with the
organization's other creators)."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.commands.organizations import check_name, project_scope
from sentrail.commands.teams import rename_slug
from sentrail.domain.actor import Actor
from sentrail.domain.errors import Invalid, NotFound
from sentrail.domain.project import Project, clean_options
from sentrail.domain.team import Team


@dataclass(frozen=True)
class UpdateProject:
    """`changes` uses the aggregate's attribute names (`team_id` moves the project);
    `bookmarked` with `user_id` sets the caller's own bookmark in the same save."""

    project_id: UUID
    changes: dict
    actor: Actor
    bookmarked: bool | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class DeleteProject:
    project_id: UUID
    actor: Actor


def check_team(app: Sentrail, project: Project, team_id: UUID) -> UUID:
    """A project may only move to a live team of its own organization."""
    try:
        team = app.load(Team, team_id)
    except NotFound:
        team = None
    if team is None or team.organization_id != project.organization_id:
        raise Invalid('The new team is not found.', field='team')
    return team.id


@handles(UpdateProject)
def update_project(app: Sentrail, cmd: UpdateProject) -> Outcome:
    project = app.load(Project, cmd.project_id)
    changes = dict(cmd.changes)
    touched: list = []
    if 'name' in changes:
        changes['name'] = check_name(changes['name'], 200)
    if 'slug' in changes and changes['slug'] != project.slug:
        touched = rename_slug(app, project_scope(project.organization_id), project.id, project.slug,
                              changes['slug'])
    if 'team_id' in changes:
        changes['team_id'] = check_team(app, project, changes['team_id'])
    if 'options' in changes:
        changes['options'] = {**project.options, **clean_options(changes['options'])}
    project.check_digests(changes)
    meta = cmd.actor.meta()
    changed = project.update(changes, meta)
    if cmd.bookmarked is not None and cmd.user_id is not None \
            and (cmd.user_id in project.bookmarked_by) != cmd.bookmarked:
        project.set_bookmark(cmd.user_id, cmd.bookmarked, meta)
    return save(app, project, *touched, id=str(project.number), changed=changed)


@handles(DeleteProject)
def delete_project(app: Sentrail, cmd: DeleteProject) -> Outcome:
    project = app.load(Project, cmd.project_id)
    project.delete(cmd.actor.meta())
    return save(app, project, app.release_slug(project_scope(project.organization_id), project.slug),
                id=str(project.number))
