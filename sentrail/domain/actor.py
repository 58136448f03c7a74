"""Who made a change: carried on every event so the audit trail needs nothing else."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The credential behind a command.

    `kind` is 'user' (session or token), 'api_key' or 'system'; `user_id` is the
    public id of the user when there is one, `credential_id` the key or token id.
    """

    kind: str
    label: str
    user_id: str | None = None
    credential_id: str | None = None
    ip: str | None = None

    def meta(self) -> dict:
        return {
            'actor': {
                'type': self.kind,
                'label': self.label,
                'user_id': self.user_id,
                'credential_id': self.credential_id,
            },
            'ip': self.ip,
        }


SYSTEM = Actor(kind='system', label='sentrail')
