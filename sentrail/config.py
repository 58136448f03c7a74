"""Settings from the environment, with defaults that work on a fresh machine."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Config:
    database_url: str = 'sqlite:///sentrail.db'
    url_prefix: str = 'http://127.0.0.1:9000'
    max_body_bytes: int = 1024 * 1024
    max_event_bytes: int = 1024 * 1024
    max_envelope_bytes: int = 20 * 1024 * 1024
    read_only: bool = False
    catch_up_interval: float = 0.5
    follow_interval: float = 0.5
    ingest_max_string: int = 8192
    client_key_ttl: float = 1.0
    bench_endpoints: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides: object) -> 'Config':
        env = os.environ if environ is None else environ
        values: dict = {}
        if env.get('SENTRAIL_DATABASE_URL'):
            values['database_url'] = env['SENTRAIL_DATABASE_URL']
        if env.get('SENTRAIL_URL_PREFIX'):
            values['url_prefix'] = env['SENTRAIL_URL_PREFIX'].rstrip('/')
        if env.get('SENTRAIL_MAX_BODY_BYTES'):
            values['max_body_bytes'] = int(env['SENTRAIL_MAX_BODY_BYTES'])
        if env.get('SENTRAIL_MAX_EVENT_BYTES'):
            values['max_event_bytes'] = int(env['SENTRAIL_MAX_EVENT_BYTES'])
        if env.get('SENTRAIL_MAX_ENVELOPE_BYTES'):
            values['max_envelope_bytes'] = int(env['SENTRAIL_MAX_ENVELOPE_BYTES'])
        if env.get('SENTRAIL_FOLLOW_INTERVAL'):
            values['follow_interval'] = float(env['SENTRAIL_FOLLOW_INTERVAL'])
        if env.get('SENTRAIL_CLIENT_KEY_TTL'):
            values['client_key_ttl'] = float(env['SENTRAIL_CLIENT_KEY_TTL'])
        if env.get('SENTRAIL_BENCH_ENDPOINTS', '').lower() in ('1', 'true', 'yes'):
            values['bench_endpoints'] = True
        if env.get('SENTRAIL_READ_ONLY', '').lower() in ('1', 'true', 'yes'):
            values['read_only'] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: object) -> 'Config':
        return replace(self, **changes)
