"""Recording ingested events, assigning each to its issue, and making the release
it names, as Sentry's event manager does.

Events are recorded in batches: one save for many events (a group commit), each
issue, release and id sequence touched once per batch. A single event is a batch
of one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.errors import Invalid
from sentrail.domain.group import Group, group_id
from sentrail.domain.grouping import group_hashes, group_summary
from sentrail.domain.ingested import IngestedEvent, ingested_id
from sentrail.domain.project import Project
from sentrail.domain.release import Release, check_version, release_id
from sentrail.domain.sequence import Sequence, sequence_id

MAX_FORWARDS = 20
USER_TAG = 'user'

# A project never changes organization: what a release's id needs, looked up once per process.
_ORGANIZATION_OF: dict[UUID, UUID] = {}


@dataclass(frozen=True)
class Grouping:
    """An event's grouping hashes (most significant first) and its issue summary."""

    hashes: list[str]
    summary: dict

    @classmethod
    def of(cls, data: dict) -> Grouping:
        return cls(group_hashes(data), group_summary(data))


@dataclass(frozen=True)
class IngestEvent:
    """`data` is the normalized event (sentrail.domain.ingest_normalize);
    `organization_id` saves a lookup when the caller knows it, and `grouping`
    the work of one process's single ingestion writer when the request's own
    thread did it (`Grouping.of(data)`)."""

    project_id: UUID
    project_number: int
    data: dict
    actor: Actor
    organization_id: UUID | None = None
    grouping: Grouping | None = None

    def grouped(self) -> Grouping:
        return self.grouping or Grouping.of(self.data)


@dataclass(frozen=True)
class IngestEvents:
    """Several events recorded in one atomic save."""

    events: list


def event_user(data: dict) -> str | None:
    return next((value for key, value in data.get('tags') or () if key == USER_TAG), None)


@dataclass
class Batch:
    """The aggregates one batch touches, each loaded once and saved once."""

    app: Sentrail
    aggregates: dict = field(default_factory=dict)
    sequences: dict = field(default_factory=dict)
    received: list = field(default_factory=list)
    event_ids: set = field(default_factory=set)

    def find(self, aggregate_id: UUID) -> object:
        """Loaded once per batch; a miss is remembered too (None)."""
        if aggregate_id not in self.aggregates:
            self.aggregates[aggregate_id] = self.app.find(aggregate_id)
        return self.aggregates[aggregate_id]

    def preload(self, grouped: list[tuple[IngestEvent, Grouping]]) -> None:
        """Look up every issue the batch's hashes may name in one query."""
        ids = list({group_id(cmd.project_id, hash) for cmd, grouping in grouped for hash in grouping.hashes}
                   - set(self.aggregates))
        found = self.app.find_many(ids)
        self.aggregates.update({aggregate_id: found.get(aggregate_id) for aggregate_id in ids})

    def keep(self, aggregate: object) -> None:
        self.aggregates[aggregate.id] = aggregate

    def next_number(self, kind: str) -> int:
        sequence = self.sequences.get(kind)
        if sequence is None:
            found = self.app.find(sequence_id(kind))
            sequence = self.sequences[kind] = found if isinstance(found, Sequence) else Sequence(kind)
        return sequence.allocate()

    def find_group(self, project_id: UUID, hashes: list[str]) -> list[Group]:
        """The issues the first known hash leads through: the one it names, then
        those merges and replacements forwarded it to (none if no hash is known).
        The last is the event's issue, unless deleted: then the caller replaces it."""
        for hash in hashes:
            group = self.find(group_id(project_id, hash))
            if isinstance(group, Group):
                chain = [group]
                while group.forward_to is not None and len(chain) <= MAX_FORWARDS:
                    if group.deleted and group.hash != hash:
                        break  # its replacement is its own hash's; the hashes merged into it went with it
                    group = self.find(group.forward_to)
                    chain.append(group)
                return chain
        return []

    def replace(self, chain: list[Group], meta: dict) -> Group:
        """A new issue for the hash whose issue was deleted. Sentry deletes a
        group's hashes with it, so each hash merged into the deleted issue opens
        an issue of its own: the issue the hash names (deleted itself, or merged
        into the deleted one) now forwards to the new one, a generation past
        every issue its hash has had (all of them on the chain)."""
        named = chain[0]
        generation = max(group.generation for group in chain if group.hash == named.hash) + 1
        group = self.new_group(named.project_id, named.hash, generation, meta)
        named.forward(group.id, group.number, meta)
        return group

    def new_group(self, project_id: UUID, hash: str, generation: int, meta: dict) -> Group:
        group = Group(number=self.next_number('group'), short_id=self.next_number(f'group-short:{project_id}'),
                      project_id=project_id, hash=hash, generation=generation, meta=meta)
        self.keep(group)
        return group

    def organization_of(self, cmd: IngestEvent) -> UUID:
        if cmd.organization_id is not None:
            return cmd.organization_id
        if cmd.project_id not in _ORGANIZATION_OF:
            project = self.app.load(Project, cmd.project_id, allow_deleted=True)
            _ORGANIZATION_OF[cmd.project_id] = project.organization_id
        return _ORGANIZATION_OF[cmd.project_id]

    def release(self, cmd: IngestEvent, meta: dict) -> tuple[int, str] | None:
        """The event's release as (number, version), made (or linked to the project)
        when missing, as Sentry does. A version no release can have is none."""
        version = cmd.data.get('release')
        if not version:
            return None
        try:
            check_version(version)
        except Invalid:
            return None
        organization_id = self.organization_of(cmd)
        release = self.find(release_id(organization_id, version))
        if isinstance(release, Release) and not release.deleted:
            release.add_projects([cmd.project_id], meta)
            return release.number, version
        fields = dict(number=self.next_number('release'), project_ids=[cmd.project_id], ref=None, url=None,
                      date_started=None, date_released=None, status='open', meta=meta)
        if isinstance(release, Release):
            release.recreate(**fields)
        else:
            release = Release(organization_id=organization_id, version=version, **fields)
            self.keep(release)
        return release.number, version

    def add(self, cmd: IngestEvent, grouping: Grouping) -> Group | None:
        """Record one event; None when it is already in this batch."""
        event_id = cmd.data['event_id']
        if (cmd.project_id, event_id) in self.event_ids:
            return None
        self.event_ids.add((cmd.project_id, event_id))
        hashes = grouping.hashes
        meta = cmd.actor.meta()
        chain = self.find_group(cmd.project_id, hashes)
        if not chain:
            group = self.new_group(cmd.project_id, hashes[0], 0, meta)
        elif chain[-1].deleted:
            group = self.replace(chain, meta)
        else:
            group = chain[-1]
        release = self.release(cmd, meta)
        group.record_event(event_id, meta, at=int(cmd.data['received'] * 1000), release=release,
                           user=event_user(cmd.data))
        self.received.append(IngestedEvent(
            project_id=cmd.project_id, project_number=cmd.project_number, group_id=group.id,
            group_number=group.number, hashes=hashes, summary=grouping.summary, data=cmd.data, meta=meta))
        return group

    def save(self) -> Outcome:
        touched = [a for a in self.aggregates.values() if a is not None]
        return save(self.app, *self.sequences.values(), *touched, *self.received)


def record(app: Sentrail, events: list[IngestEvent]) -> tuple[Outcome, list[Group | None]]:
    batch = Batch(app)
    grouped = [(cmd, cmd.grouped()) for cmd in events]
    if len(grouped) > 1:
        batch.preload(grouped)
    groups = [batch.add(cmd, grouping) for cmd, grouping in grouped]
    return batch.save(), groups


@handles(IngestEvents)
def ingest_events(app: Sentrail, cmd: IngestEvents) -> Outcome:
    try:
        outcome, _ = record(app, cmd.events)
    except IntegrityError:
        # Some event_id was stored before: store the rest once, answer all as
        # accepted. Any other conflict (a racing creator of an issue) raises
        # again below and is retried by the bus.
        fresh = [e for e in cmd.events if app.find(ingested_id(e.project_id, e.data['event_id'])) is None]
        if len(fresh) == len(cmd.events):
            raise
        outcome = record(app, fresh)[0] if fresh else Outcome()
    return Outcome(position=outcome.position, data={'count': len(cmd.events)})


@handles(IngestEvent)
def ingest_event(app: Sentrail, cmd: IngestEvent) -> Outcome:
    event_id = cmd.data['event_id']
    try:
        outcome, (group,) = record(app, [cmd])
    except IntegrityError:
        # The same event_id again: stored once, answered as accepted. Anything
        # else (a racing creator of the same issue) is retried by the bus.
        if app.find(ingested_id(cmd.project_id, event_id)) is not None:
            return Outcome(id=event_id, data={'duplicate': True})
        raise
    return Outcome(id=event_id, position=outcome.position, data={'group_id': group.id})
