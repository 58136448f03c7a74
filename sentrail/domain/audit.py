"""Reading the event log as an audit trail: which domain events are entries,
under which of Sentry's names, in which organization, and with what data.

Pure: the audit-log projection and `sentrail audit replay` both use it, so the
endpoint and the replay cannot disagree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

# Aggregate class name -> the prefix of its audit names.
PREFIXES = {
    'Organization': 'org',
    'Team': 'team',
    'Project': 'project',
    'Member': 'member',
    'ApiKey': 'api-key',
    'ProjectKey': 'projectkey',
    'Group': 'issue',
    'Release': 'release',
    'Deploy': 'deploy',
    'Repository': 'repo',
}

# Event class qualname -> audit name, where the general rule below does not fit.
NAMES = {
    'Member.Readded': 'member.add',
    'Member.Reinvited': 'member.reinvite',
    'Member.TeamJoined': 'member.join-team',
    'Member.TeamLeft': 'member.leave-team',
    'Group.Regressed': 'issue.regression',
    'Group.Merged': 'issue.merge',
    'Release.Recreated': 'release.create',
    'Release.ProjectsAdded': 'release.edit',
    'Release.CommitsSet': 'release.set-commits',
    'Release.RefsSet': 'release.set-commits',
    'Repository.Created': 'repo.add',
    'Repository.Deleted': 'repo.remove',
    'Repository.Reopened': 'repo.add',
}

# Events that change no organization's state as Sentry's audit log sees it.
# (A merge is recorded once, on the parent; Counted is written per event while an ignore counts.)
SKIPPED = {'Project.BookmarkSet', 'Group.Forwarded', 'Group.Counted'}

SUFFIXES = {'Created': 'create', 'Updated': 'edit', 'Deleted': 'remove'}

# Names as the issue tracker and older docs spell them, accepted by ?event=.
ALIASES = {'apikey.add': 'api-key.create', 'apikey.edit': 'api-key.edit', 'apikey.remove': 'api-key.remove'}

SECRET_FIELDS = frozenset({'key', 'secret', 'token', 'password', 'password_hash', 'token_hash', 'csrf_token'})

BASE_FIELDS = frozenset({'originator_id', 'originator_version', 'timestamp', 'originator_topic', 'meta'})


@dataclass
class Target:
    """What the trail knows about an aggregate from its creation event."""

    kind: str
    organization_id: UUID | None
    number: int | None = None
    user_number: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class Entry:
    name: str
    organization_id: UUID
    target_id: UUID
    target_number: int | None
    target_user: int | None
    actor: dict
    ip: str | None
    data: dict
    when: datetime
    note: str = ''


@dataclass
class Trail:
    """Turns domain events into entries, remembering each aggregate's organization
    (later events of an aggregate do not repeat it). Memory grows with the number
    of aggregates, not of events."""

    targets: dict[UUID, Target] = field(default_factory=dict)

    def entry(self, event: Any) -> Entry | None:
        qualname = type(event).__qualname__
        owner, _, kind = qualname.partition('.')
        if owner not in PREFIXES or qualname in SKIPPED:
            return None
        target = self.targets.get(event.originator_id)
        if target is None:
            target = self._remember(owner, event)
        if target is None or target.organization_id is None:
            return None
        data = public_data(event)
        name = audit_name(qualname, owner, kind, data)
        meta = getattr(event, 'meta', {}) or {}
        return Entry(
            name=name, organization_id=target.organization_id, target_id=event.originator_id,
            target_number=target.number, target_user=target.user_number, actor=meta.get('actor') or {},
            ip=meta.get('ip'), data=data, when=event.timestamp, note=note_for(name, target, data),
        )

    def row(self, entry: Entry, position: int) -> dict:
        """The entry as the audit-log table and the replay both keep it."""
        target = self.targets.get(entry.target_id)
        target_user = ({'email': target.label} if target is not None and target.kind == 'Member' else None)
        return {
            'id': position, 'organization_id': str(entry.organization_id), 'event': entry.name,
            'actor': entry.actor, 'ip': entry.ip, 'note': entry.note, 'target_object': entry.target_number,
            'target_user': target_user, 'data': entry.data, 'date': int(entry.when.timestamp() * 1000),
        }

    def _remember(self, owner: str, event: Any) -> Target | None:
        if not hasattr(event, 'number') and owner != 'Organization':
            return None
        organization_id = (event.originator_id if owner == 'Organization'
                           else self._organization_of(event))
        target = Target(kind=owner, organization_id=organization_id, number=getattr(event, 'number', None),
                        label=getattr(event, 'slug', None) or getattr(event, 'version', None)
                        or getattr(event, 'label', None)
                        or getattr(event, 'email', None) or getattr(event, 'name', None))
        self.targets[event.originator_id] = target
        return target

    def _organization_of(self, event: Any) -> UUID | None:
        if getattr(event, 'organization_id', None) is not None:
            return event.organization_id
        for reference in ('project_id', 'release_id', 'team_id'):
            parent = self.targets.get(getattr(event, reference, None))
            if parent is not None:
                return parent.organization_id
        return None


def audit_name(qualname: str, owner: str, kind: str, data: dict) -> str:
    if qualname == 'Member.Added':
        return 'member.add' if data.get('user_id') else 'member.invite'
    if qualname == 'ProjectKey.Updated' and set(data.get('changes', {})) == {'is_active'}:
        return 'projectkey.enable' if data['changes']['is_active'] else 'projectkey.disable'
    if qualname == 'Group.StatusChanged':
        return {'resolved': 'issue.resolve', 'ignored': 'issue.ignore'}.get(data.get('status'), 'issue.unresolve')
    if qualname in NAMES:
        return NAMES[qualname]
    suffix = SUFFIXES.get(kind) or re.sub(r'(?<!^)(?=[A-Z])', '-', kind).lower()
    return f'{PREFIXES[owner]}.{suffix}'


def public_data(event: Any) -> dict:
    """The event's own fields, minus bookkeeping and secrets, as plain JSON values."""
    fields = getattr(event, '__dict__', {})
    return {name: _plain(value) for name, value in fields.items()
            if name not in BASE_FIELDS and name not in SECRET_FIELDS}


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def note_for(name: str, target: Target, data: dict) -> str:
    label = target.label or (f'#{target.number}' if target.number is not None else '')
    verb = name.split('.', 1)[1].replace('-', ' ')
    return f'{verb} {target.kind.lower()} {label}'.strip()


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)
