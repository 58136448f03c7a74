"""`organizations/{org}/audit-logs/`: the organization's trail, newest first."""
from __future__ import annotations

import falcon

from sentrail.domain.audit import canonical_name
from sentrail.http.openapi import Api, Op, Param, ok
from sentrail.http.pagination import respond_with_page
from sentrail.http.resource import Resource
from sentrail.http.resources.organizations import ORG_SCOPES
from sentrail.http.serializers.audit import audit_entry
from sentrail.projections.audit import audit_log, entries_of
from sentrail.services import Services


class AuditLogResource(Resource):
    """The organization's audit trail, newest first."""

    scopes = ORG_SCOPES
    api = Api(get=Op(returns=ok(['AuditLogEntry']), paged=True, query=(
        Param('event', {'type': 'string'}, 'Only entries of this event name, e.g. `member.invite`.'),)))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        self.services.runner.catch_up()
        event = req.get_param('event')
        with self.services.read() as conn:
            row = self.access(req).organization(conn, org, self.needed(req))
            query = entries_of(row.id, canonical_name(event) if event else None)
            respond_with_page(req, resp, self.services.config.url_prefix, conn, query, audit_log.c.date,
                              lambda r: audit_entry(r._mapping), tiebreak=audit_log.c.id)


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [('/api/0/organizations/{org}/audit-logs/', AuditLogResource(services))]
