"""Creating organizations, teams, projects and their keys."""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sentrail.commands.application import Sentrail, new_secret
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.apikey import ApiKey, ProjectKey
from sentrail.domain.errors import Conflict, Invalid
from sentrail.domain.member import Member, OwnerRoster, member_id
from sentrail.domain.organization import Organization
from sentrail.domain.project import Project
from sentrail.domain.roles import API_KEY_DEFAULT_SCOPES, check_scopes
from sentrail.domain.slugs import check_slug, slugify
from sentrail.domain.team import Team
from sentrail.domain.user import User


@dataclass(frozen=True)
class CreateOrganization:
    name: str
    actor: Actor
    slug: str | None = None
    owner_id: UUID | None = None
    default_team: bool = False


@dataclass(frozen=True)
class CreateTeam:
    organization_id: UUID
    name: str
    actor: Actor
    slug: str | None = None
    creator_id: UUID | None = None


@dataclass(frozen=True)
class CreateProject:
    team_id: UUID
    name: str
    actor: Actor
    slug: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class CreateApiKey:
    organization_id: UUID
    actor: Actor
    label: str = 'Default'
    scopes: list = field(default_factory=lambda: list(API_KEY_DEFAULT_SCOPES))
    key: str | None = None


@dataclass(frozen=True)
class CreateProjectKey:
    project_id: UUID
    actor: Actor
    name: str | None = None
    public: str | None = None
    secret: str | None = None


def check_name(name: object, limit: int) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid('This field is required.', field='name')
    if len(name) > limit:
        raise Invalid(f'Ensure this value has at most {limit} characters (it has {len(name)}).', field='name')
    return name.strip()


def org_scope() -> str:
    return 'organization'


def team_scope(organization_id: UUID) -> str:
    return f'team:{organization_id}'


def project_scope(organization_id: UUID) -> str:
    return f'project:{organization_id}'


def claim(app: Sentrail, scope: str, slug: str, owner_id: UUID, taken: str):  # noqa: ANN201
    try:
        return app.claim_slug(scope, slug, owner_id)
    except Conflict:
        raise Conflict(taken) from None


@handles(CreateOrganization)
def create_organization(app: Sentrail, cmd: CreateOrganization) -> Outcome:
    name = check_name(cmd.name, 64)
    slug = check_slug(cmd.slug) if cmd.slug else slugify(name)
    meta = cmd.actor.meta()
    sequence, number = app.next_number('organization')
    org = Organization(number=number, slug=slug, name=name, meta=meta)
    slug_claim = claim(app, org_scope(), slug, org.id, 'An organization with this slug already exists.')
    created = [sequence, org, slug_claim]
    team_ids = []
    if cmd.default_team:
        team_sequence, team_number = app.next_number('team')
        team = Team(number=team_number, organization_id=org.id, slug=slug, name=name, meta=meta)
        created += [team_sequence, team, app.claim_slug(team_scope(org.id), slug, team.id)]
        team_ids.append(team.id)
    if cmd.owner_id is not None:
        user = app.load(User, cmd.owner_id)
        member_sequence, member_number = app.next_number('member')
        owner = Member(number=member_number, organization_id=org.id, email=user.email, user_id=user.id,
                       role='owner', team_ids=team_ids, meta=meta)
        created += [member_sequence, owner, OwnerRoster(organization_id=org.id, owner_ids=[owner.id])]
    return save(app, *created, id=str(number), organization_id=org.id, slug=slug)


@handles(CreateTeam)
def create_team(app: Sentrail, cmd: CreateTeam) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    name = check_name(cmd.name, 200)
    slug = check_slug(cmd.slug) if cmd.slug else slugify(name)
    sequence, number = app.next_number('team')
    team = Team(number=number, organization_id=org.id, slug=slug, name=name, meta=cmd.actor.meta())
    slug_claim = claim(app, team_scope(org.id), slug, team.id, 'A team with this slug already exists.')
    changed = [sequence, team, slug_claim]
    if cmd.creator_id is not None:
        member = app.find(member_id(org.id, app.load(User, cmd.creator_id).email))
        if isinstance(member, Member) and not member.deleted:
            member.join_team(team.id, cmd.actor.meta())
            changed.append(member)
    return save(app, *changed, id=str(number), team_id=team.id, slug=slug)


@handles(CreateProject)
def create_project(app: Sentrail, cmd: CreateProject) -> Outcome:
    team = app.load(Team, cmd.team_id)
    name = check_name(cmd.name, 200)
    slug = check_slug(cmd.slug) if cmd.slug else slugify(name)
    meta = cmd.actor.meta()
    sequence, number = app.next_number('project')
    project = Project(number=number, organization_id=team.organization_id, team_id=team.id, slug=slug,
                      name=name, platform=cmd.platform, meta=meta)
    slug_claim = claim(app, project_scope(team.organization_id), slug, project.id,
                       'A project with this slug already exists.')
    key_sequence, key_number = app.next_number('project_key')
    key = ProjectKey(number=key_number, project_id=project.id, public=new_secret(), secret=new_secret(),
                     name='Default', meta=meta)
    return save(app, sequence, project, slug_claim, key_sequence, key, id=str(number),
                project_id=project.id, slug=slug, public_key=key.public)


@handles(CreateApiKey)
def create_api_key(app: Sentrail, cmd: CreateApiKey) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    sequence, number = app.next_number('api_key')
    key = ApiKey(number=number, organization_id=org.id, key=cmd.key or new_secret(), label=cmd.label,
                 scopes=check_scopes(list(cmd.scopes)), meta=cmd.actor.meta())
    return save(app, sequence, key, id=str(number), key=key.key, api_key_id=key.id)


def check_hex_key(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) != 32 or any(c not in '0123456789abcdef' for c in value):
        raise Invalid('Enter a valid 32-character hex key.', field=field)
    return value


@handles(CreateProjectKey)
def create_project_key(app: Sentrail, cmd: CreateProjectKey) -> Outcome:
    project = app.load(Project, cmd.project_id)
    public = check_hex_key(cmd.public, 'public') if cmd.public else new_secret()
    secret = check_hex_key(cmd.secret, 'secret') if cmd.secret else new_secret()
    if cmd.name is not None:
        check_name(cmd.name, 200)
    if app.find(ProjectKey.create_id(0, project.id, public)) is not None:
        raise Conflict('A key with this public key already exists.')
    sequence, number = app.next_number('project_key')
    key = ProjectKey(number=number, project_id=project.id, public=public, secret=secret,
                     name=cmd.name or public[:14], meta=cmd.actor.meta())
    return save(app, sequence, key, id=public, public=public)


@dataclass(frozen=True)
class UpdateOrganization:
    organization_id: UUID
    changes: dict
    actor: Actor


@dataclass(frozen=True)
class DeleteOrganization:
    organization_id: UUID
    actor: Actor


@handles(UpdateOrganization)
def update_organization(app: Sentrail, cmd: UpdateOrganization) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    changes = dict(cmd.changes)
    touched = []
    if 'name' in changes:
        changes['name'] = check_name(changes['name'], 64)
    if 'flags' in changes:
        changes['flags'] = {**org.flags, **changes['flags']}
    if 'slug' in changes and changes['slug'] != org.slug:
        slug = check_slug(changes['slug'])
        touched.append(claim(app, org_scope(), slug, org.id, f'The slug "{slug}" is already in use.'))
        touched.append(app.release_slug(org_scope(), org.slug))
    changed = org.update(changes, cmd.actor.meta())
    return save(app, org, *touched, id=str(org.number), changed=changed)


@handles(DeleteOrganization)
def delete_organization(app: Sentrail, cmd: DeleteOrganization) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    org.delete(cmd.actor.meta())
    return save(app, org, app.release_slug(org_scope(), org.slug), id=str(org.number))
