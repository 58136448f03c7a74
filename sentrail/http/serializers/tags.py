"""Sentry's tag shapes: TagKey, TagValue, GroupTagKey and GroupTagValue.

Sentry's tag rows had numeric ids; sentrail's tags are their own keys, so a
key's id is the key and a value's id is the value.
"""
from __future__ import annotations

import hashlib

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.users import avatar_url

LABELS = {'user': 'User', 'release': 'Release', 'environment': 'Environment', 'level': 'Level'}
USER_FIELDS = {'id': 'identifier', 'email': 'email', 'username': 'username', 'ip': 'ipAddress'}


def standard_key(key: str) -> str:
    """Keys as clients may spell them: Sentry's internal `sentry:` prefix is dropped."""
    return key[len('sentry:'):] if key.startswith('sentry:') else key


def key_name(key: str) -> str:
    return LABELS.get(key) or key.replace('_', ' ').title()


def tag_key(key: str, unique_values: int) -> dict:
    return {'id': key, 'key': key, 'name': key_name(key), 'uniqueValues': int(unique_values)}


def tag_value(row: Row) -> dict:
    """TagValue and GroupTagValue (the same fields); a `user` value also carries
    the user it names."""
    body = {
        'id': row.value,
        'key': row.key,
        'name': row.value,
        'value': row.value,
        'count': int(row.times_seen),
        'lastSeen': iso(row.last_seen),
        'firstSeen': iso(row.first_seen),
    }
    if row.key == 'user':
        body.update(tag_user(row.value, row.first_seen))
    return body


def tag_user(value: str, first_seen: int) -> dict:
    """The EventUser fields Sentry adds to a `user` value, read back from the value
    itself (`id:42`, `email:…`, `username:…`, `ip:…`): sentrail keeps no user rows."""
    kind, _, identity = value.partition(':')
    fields = {name: None for name in USER_FIELDS.values()}
    if kind in USER_FIELDS:
        fields[USER_FIELDS[kind]] = identity
    email = fields['email']
    return {
        'id': None,
        'hash': hashlib.md5(value.encode()).hexdigest(),
        'tagValue': value,
        **fields,
        'name': email or fields['username'] or fields['identifier'] or fields['ipAddress'],
        'dateCreated': iso(first_seen),
        'avatarUrl': avatar_url(email) if email else None,
    }


def group_tag_key(key: str, unique_values: int, total_values: int, top_values: list[Row] | None = None) -> dict:
    """GroupTagKey; the tag lists and the key detail add its most frequent values."""
    body = {**tag_key(key, unique_values), 'totalValues': int(total_values or 0)}
    if top_values is not None:
        body['topValues'] = [tag_value(row) for row in top_values]
    return body
