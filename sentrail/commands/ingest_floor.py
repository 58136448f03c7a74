"""Benchmark yardstick (SENTRAIL_BENCH_ENDPOINTS=1 only): the least any
recording of an ingested event can cost here.

Each event becomes one row, shaped like the event store's (an id, the
event's natural id and version, a topic and its JSON state), in a scratch
table that nothing reads, through the ingestion writer's group commit and
write turn: no issue is looked up or changed, no aggregate built, no read
model follows. `bench/ingest.py` sets its rate beside parse-only and the real
endpoint, which shows what issue assignment and the read models cost on top.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable

import orjson
from sqlalchemy import (BigInteger, Column, Connection, Engine, Integer, LargeBinary, MetaData, Table, Text,
                        UniqueConstraint, insert)

from sentrail.commands.ingest import IngestEvent
from sentrail.ddl import create_tables
from sentrail.domain.ingested import ingested_id

TOPIC = 'sentrail.domain.ingested:IngestedEvent.Received'

floor_rows = Table(
    'bench_ingest_floor', MetaData(),
    Column('id', BigInteger().with_variant(Integer, 'sqlite'), primary_key=True, autoincrement=True),
    Column('originator_id', LargeBinary(16), nullable=False),
    Column('originator_version', BigInteger, nullable=False),
    Column('topic', Text, nullable=False),
    Column('state', LargeBinary, nullable=False),
    UniqueConstraint('originator_id', 'originator_version'),
)


class FloorRecorder:
    """Records a batch as rows of `bench_ingest_floor` with one INSERT and one
    commit, on a connection of the event store's engine held by the writer
    thread, inside the same write turn as the real writer."""

    def __init__(self, engine: Engine, turn: Callable[[], AbstractContextManager]) -> None:
        create_tables(lambda: floor_rows.create(engine, checkfirst=True))  # workers may race to it
        self._engine = engine
        self._turn = turn
        self._conn: Connection | None = None

    def record(self, commands: list[IngestEvent]) -> None:
        rows = [{'originator_id': ingested_id(c.project_id, c.data['event_id']).bytes, 'originator_version': 1,
                 'topic': TOPIC, 'state': state(c)} for c in commands]
        if self._conn is None:
            self._conn = self._engine.connect()
        with self._turn(), self._conn.begin():
            self._conn.execute(insert(floor_rows), rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def state(cmd: IngestEvent) -> bytes:
    """What the real store encodes for the event: its payload, grouping and ids."""
    grouping = cmd.grouped()
    return orjson.dumps({'project_id': str(cmd.project_id), 'project_number': cmd.project_number,
                         'hashes': grouping.hashes, 'summary': grouping.summary, 'data': cmd.data,
                         'meta': cmd.actor.meta()})
