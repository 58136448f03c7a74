"""Credentials are indexed by digest, so read tables never hold a session secret in the clear."""
from __future__ import annotations

import hashlib


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
