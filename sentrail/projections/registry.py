"""Every read model sentrail maintains, in the order the runner applies them.
Importing it also defines every table of the read side (the rate-limit windows
too), so whoever creates the tables creates them all."""
from __future__ import annotations

from sentrail.projections.accounts import AccountProjection
from sentrail.projections.audit import AuditLogProjection
from sentrail.projections.base import Projection
from sentrail.projections.events import EventProjection
from sentrail.projections.issues import IssueProjection
from sentrail.projections.organizations import OrganizationProjection
from sentrail.projections.projects import ProjectProjection
from sentrail.projections import ratelimits  # noqa: F401 - defines its table in the shared metadata
from sentrail.projections.releases import ReleaseProjection


def all_projections() -> list[Projection]:
    return [
        AccountProjection(), AuditLogProjection(), OrganizationProjection(), ProjectProjection(),
        IssueProjection(), EventProjection(), ReleaseProjection(),
    ]
