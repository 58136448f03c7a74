"""Following a list's `Link` header page by page, as sentry-cli does."""
from __future__ import annotations

import re


def next_link(response) -> tuple[str, bool]:
    match = re.search(r'rel="next"; results="(true|false)"; cursor="([^"]+)"', response.headers['Link'])
    return match.group(2), match.group(1) == 'true'


def walk(client, path: str, headers: dict, field: str = 'slug', **params: str) -> list[list[str]]:
    """Follow `next` while it has results; the `field` of each row, page by page."""
    pages, cursor = [], ''
    while True:
        response = client.simulate_get(path, params={**params, 'cursor': cursor}, headers=headers)
        assert response.status_code == 200, response.text
        pages.append([row[field] for row in response.json])
        cursor, more = next_link(response)
        if not more:
            return pages
