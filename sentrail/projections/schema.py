"""The read side's tables share one MetaData; each projection module adds its own."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table

metadata = MetaData()

tracking = Table(
    'projection_tracking', metadata,
    Column('name', String(100), primary_key=True),
    Column('position', BigInteger, nullable=False, default=0),
)
