"""Every read table's rows, in primary-key order, for comparing two builds."""
from __future__ import annotations

from sqlalchemy import select

from sentrail.projections.runner import ProjectionRunner


def snapshot(runner: ProjectionRunner) -> dict[str, list[tuple]]:
    tables = [table for projection in runner.projections.values() for table in projection.tables]
    with runner.engine.connect() as conn:
        return {table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
                for table in tables}


def differences(left: dict[str, list[tuple]], right: dict[str, list[tuple]]) -> dict[str, str]:
    """Per table, a short description of how the two differ (empty when equal)."""
    found = {}
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name, []), right.get(name, [])
        if a != b:
            only_a = [row for row in a if row not in b][:3]
            only_b = [row for row in b if row not in a][:3]
            found[name] = f'{len(a)} vs {len(b)} rows; only left {only_a}; only right {only_b}'
    return found
