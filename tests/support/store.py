"""A sizeable, varied event store for the rebuild tests and bench/rebuild:
organizations, teams, projects, members and keys, renames and deletions, tens
of thousands of ingested events across many issues, and bulk edits, merges and
deletions of those issues between the events."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from uuid import UUID

from sentrail.commands.accounts import RegisterUser
from sentrail.commands.apikeys import DeleteApiKey
from sentrail.commands.ingest import IngestEvent, IngestEvents
from sentrail.commands.issues import DeleteIssues, UpdateIssues
from sentrail.commands.members import InviteMember, UpdateMember
from sentrail.commands.organizations import (CreateApiKey, CreateOrganization, CreateProject, CreateTeam,
                                             UpdateOrganization)
from sentrail.commands.projects import DeleteProject, UpdateProject
from sentrail.commands.teams import UpdateTeam
from sentrail.domain.actor import Actor
from sentrail.domain.group import group_id
from sentrail.domain.grouping import group_hashes
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.services import Services

EXCEPTIONS = ('ValueError', 'KeyError', 'TimeoutError', 'ConnectionError', 'PermissionError')
FUNCTIONS = ('checkout', 'login', 'search', 'render', 'sync', 'export', 'import_rows', 'notify')


def raw_event(rng: random.Random, n: int, fingerprint: int, when: float) -> dict:
    """A realistic SDK error event; the fingerprint picks type and code path."""
    kind = EXCEPTIONS[fingerprint % len(EXCEPTIONS)]
    function = FUNCTIONS[fingerprint % len(FUNCTIONS)]
    frames = [{'filename': f'app/{function}.py', 'module': f'app.{function}', 'function': f'{function}_{fingerprint}',
               'lineno': 10 + i, 'context_line': f'    step_{i}(request)', 'in_app': True} for i in range(4)]
    return {
        'event_id': f'{n:032x}',
        'timestamp': when,
        'level': rng.choice(('error', 'error', 'warning', 'fatal')),
        'platform': 'python',
        'release': f'web@1.{fingerprint % 4}.0',
        'environment': rng.choice(('production', 'staging')),
        'server_name': f'web-{rng.randrange(4)}',
        'user': {'id': str(rng.randrange(300)), 'email': f'user{rng.randrange(300)}@example.com'},
        'tags': {'browser': rng.choice(('Chrome', 'Firefox', 'Safari')), 'region': rng.choice(('eu', 'us'))},
        'exception': {'values': [{'type': kind, 'value': f'failure {fingerprint}: item {n}',
                                  'stacktrace': {'frames': frames}}]},
        'request': {'url': f'https://example.com/{function}', 'method': 'POST'},
    }


def generate_store(services: Services, events: int = 50_000, batch: int = 1000, fingerprints: int = 300,
                   seed: int = 7, catch_up: bool = True) -> dict:
    """Build the store through the real commands; returns a few ids for tests."""
    rng = random.Random(seed)
    run = services.bus.handle
    admin = Actor(kind='user', label='admin@example.com', user_id='1', ip='127.0.0.1')
    owner = run(RegisterUser(email='admin@example.com', password='secret-pw', actor=admin)).data['user_id']
    projects = []
    for o in range(3):
        org = run(CreateOrganization(name=f'Org {o}', owner_id=owner, actor=admin)).data['organization_id']
        keys = [run(CreateApiKey(organization_id=org, label=f'key {k}', actor=admin)).data for k in range(2)]
        for t in range(2):
            team = run(CreateTeam(organization_id=org, name=f'Team {o}-{t}', actor=admin)).data['team_id']
            for p in range(2):
                created = run(CreateProject(team_id=team, name=f'Project {o}-{t}-{p}', platform='python',
                                            actor=admin)).data
                projects.append((created['project_id'], len(projects) + 1))
            run(UpdateTeam(team_id=team, changes={'name': f'Renamed team {o}-{t}'}, actor=admin))
        for m in range(3):
            member = run(InviteMember(organization_id=org, email=f'dev{o}{m}@example.com', role='member',
                                      actor=admin)).data
            if m == 0:
                run(UpdateMember(member_id=member['member_id'], role='admin', actor=admin, max_role='owner'))
        run(UpdateOrganization(organization_id=org, changes={'slug': f'renamed-org-{o}', 'name': f'Org {o} Inc'},
                               actor=admin))
        run(DeleteApiKey(organization_id=org, api_key_id=keys[0]['api_key_id'], actor=admin))
    run(UpdateProject(project_id=projects[0][0], changes={'slug': 'renamed-project'}, actor=admin))
    run(DeleteProject(project_id=projects[-1][0], actor=admin))
    live = projects[:-1]
    start = time.time() - 3 * 86400
    # Normalizing is tested on its own; here a few hundred normalized templates
    # are varied per event (id, times, user, tags), which keeps generation fast.
    templates = [normalize_event(raw_event(rng, n, n % fingerprints, start), received_at=start, project_id=1)
                 for n in range(fingerprints * 2)]
    client = Actor(kind='client_key', label='dsn', ip='10.0.0.1')
    issues = [[group_id(project_id, group_hashes(template)[0]) for template in templates[:fingerprints]]
              for project_id, _ in live]
    edits = {events // 3 // batch * batch, 2 * events // 3 // batch * batch} - {0}
    for first in range(0, events, batch):
        if first in edits:
            edit_issues(run, rng, issues, owner, admin)
        commands = []
        for n in range(first, min(events, first + batch)):
            project_id, number = live[n % len(live)]
            data = dict(templates[rng.randrange(len(templates))])
            user = f'id:{rng.randrange(300)}'
            data.update(event_id=f'{n:032x}', timestamp=start + n * 3, received=start + n * 3, project_id=number,
                        tags=[[k, user if k == 'user' else v] for k, v in data['tags']])
            commands.append(IngestEvent(project_id=project_id, project_number=number, data=data, actor=client))
        run(IngestEvents(commands))
        if catch_up:
            services.runner.catch_up()
    return {'owner_id': owner, 'projects': live}


def edit_issues(run: Callable, rng: random.Random, issues: list[list], owner: UUID, admin: Actor) -> None:
    """A round of what people do to issues in bulk: resolve (later events regress
    them), ignore until a count, assign and bookmark, merge within a project,
    delete (later events open new issues). Ids of issues not yet there, or gone
    since, are skipped by the commands themselves."""
    every = [issue for project in issues for issue in project]
    picked = rng.sample(every, 400)
    run(UpdateIssues(group_ids=tuple(picked[:150]), status='resolved', actor=admin))
    run(UpdateIssues(group_ids=tuple(picked[150:250]), status='ignored', snooze={'ignoreCount': 3}, actor=admin))
    run(UpdateIssues(group_ids=tuple(picked[250:350]), assign=True, assignee=(str(owner), '1', 'admin@example.com'),
                     user_id=owner, bookmarked=True, actor=admin))
    for project in rng.sample(issues, 5):
        run(UpdateIssues(group_ids=tuple(rng.sample(project, 3)), merge=True, actor=admin))
    run(DeleteIssues(group_ids=tuple(picked[350:]), actor=admin))
