"""The issue search: Sentry's query language (8.22's `search/utils.py`) parsed
into terms, and the SELECT over the issue read model that finds their issues.

`is:`, `assigned:`, `bookmarks:`, `subscribed:`, `release:` (and `latest`),
`first-release:`, `has:`, `age:`/`firstSeen:`, `lastSeen:`, `activeSince:`,
`timesSeen:`, `user.id:`-style user tags, any other `key:value` as a tag, each
negated by a leading `!`, quoted values, and free text against the title,
message and culprit. An ignore whose time has passed counts as unresolved.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select

from sentrail.domain.numbers import capped_number
from sentrail.domain.sequence import public_number
from sentrail.projections.accounts import users
from sentrail.projections.issues import USERS_KEY, group_users, groups
from sentrail.projections.releases import release_projects, releases
from sentrail.projections.tags import group_tag_values

STATUS_ALIASES = {'muted': 'ignored'}
STATUSES = ('unresolved', 'resolved', 'ignored')
IS_FLAGS = ('assigned', 'unassigned', 'bookmarked', 'subscribed')

# The issue list's `sort` values and the column each pages by (descending).
SORTS = {
    'date': groups.c.last_seen,
    'new': groups.c.first_seen,
    'freq': groups.c.times_seen,
    'priority': groups.c.score,
    'user': USERS_KEY,
}

DATE_KEYS = {'age': 'first_seen', 'firstSeen': 'first_seen', 'first_seen': 'first_seen',
             'lastSeen': 'last_seen', 'last_seen': 'last_seen', 'activeSince': 'active_at',
             'active_since': 'active_at'}
USER_TAG_PREFIXES = {'user.id': 'id', 'user.email': 'email', 'user.username': 'username', 'user.ip': 'ip'}
UNITS = {'m': 60_000, 'h': 3_600_000, 'd': 86_400_000, 'w': 604_800_000}
EXACT_WINDOW = (5 * 60_000, 6 * 60_000)  # a bare date-time matches 5 minutes before to 6 after
NUMBER = re.compile(r'^(>=|<=|>|<|=)?(\d+)$')
# Counts and times are 64-bit columns: a value past them compares as their end
# does (no row holds more), instead of failing in the database.
BIGINT_MAX = 2 ** 63 - 1
COMPARISON = re.compile(r'^(>=|<=|>|<|=)(.+)$')


class InvalidQuery(ValueError):
    """A search the issue list cannot parse; the message is Sentry's."""


@dataclass(frozen=True)
class Term:
    key: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class IssueQuery:
    """A parsed `query`. No query at all means unresolved issues only (`defaulted`);
    an empty one means every status."""

    statuses: tuple[str, ...] | None = ('unresolved',)
    terms: tuple[Term, ...] = ()
    words: tuple[str, ...] = ()
    defaulted: bool = True


@dataclass(frozen=True)
class Searcher:
    """Who searches and when: `me` is `user_id` (None for an API key, which matches
    nothing), relative dates count back from `now` (epoch ms)."""

    user_id: str | None
    now: int


def tokenize(text: str) -> list[str]:
    """Split on whitespace, except inside quotes and right after a trailing `:`
    (`assigned: me` is one token), as Sentry 8.22 does."""
    tokens: list[str] = []
    current, quote = '', ''
    for char in text:
        if quote:
            current += char
            quote = '' if char == quote else quote
        elif char in '"\'':
            current, quote = current + char, char
        elif char.isspace():
            if current and not current.endswith(':'):
                tokens.append(current)
                current = ''
        else:
            current += char
    if current:
        tokens.append(current)
    return tokens


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '"\'':
        return text[1:-1]
    return text


def parse_issue_query(text: str | None) -> IssueQuery:
    if text is None:
        return IssueQuery()
    terms: list[Term] = []
    words: list[str] = []
    for token in tokenize(text.strip()):
        term = parse_term(token)
        if term is None:
            words.append(unquote(token))
        else:
            terms.append(term)
    return IssueQuery(statuses=None, terms=tuple(terms), words=tuple(words), defaulted=False)


def parse_term(token: str) -> Term | None:
    negated = token.startswith('!')
    body = token[1:] if negated else token
    if ':' not in body or body[0] in '"\'' or body.startswith('::'):
        return None
    key, _, value = body.partition(':')
    key, value = unquote(key), unquote(value)
    if not key or not value:
        return None
    if key == 'is':
        value = check_is(value)
    elif key in DATE_KEYS:
        date_condition(groups.c.first_seen, value, 0)  # refuse a bad date now, not when searching
    elif key in ('timesSeen', 'times_seen'):
        number_condition(groups.c.times_seen, value)
    return Term(key, value, negated)


def check_is(value: str) -> str:
    value = STATUS_ALIASES.get(value, value)
    if value not in STATUSES and value not in IS_FLAGS:
        raise InvalidQuery(f"Your search query could not be parsed: 'is:' had unknown status code '{value}'.")
    return value


def with_filters(search: IssueQuery, status: str | None = None, bookmarks: bool = False,
                 assigned: bool = False) -> IssueQuery:
    """Sentry's old top-level filters (`?status=`, `?bookmarks=1`, `?assigned=1`).
    A status given that way replaces the default `is:unresolved` (so sentry-cli's
    `--status resolved` selects resolved issues); with a query, both apply."""
    terms = list(search.terms)
    if status is not None:
        terms.append(Term('is', check_is(status)))
    if bookmarks:
        terms.append(Term('bookmarks', 'me'))
    if assigned:
        terms.append(Term('assigned', 'me'))
    statuses = None if status is not None and search.defaulted else search.statuses
    return replace(search, statuses=statuses, terms=tuple(terms))


def status_condition(status: str, now: int) -> ColumnElement[bool]:
    """The status as shown: an ignore past its time is unresolved again."""
    g = groups.c
    lapsed = and_(g.status == 'ignored', g.ignore_until.is_not(None), g.ignore_until <= now)
    if status == 'unresolved':
        return or_(g.status == 'unresolved', lapsed)
    if status == 'ignored':
        return and_(g.status == 'ignored', or_(g.ignore_until.is_(None), g.ignore_until > now))
    return g.status == status


def issues_query(project_ids: list[str], search: IssueQuery, searcher: Searcher) -> Select:
    """The issues of these projects that match; the caller orders and pages it by a SORTS column."""
    query = select(groups).where(groups.c.project_id.in_(project_ids))
    if search.statuses is not None:
        query = query.where(or_(*(status_condition(s, searcher.now) for s in search.statuses)))
    for term in search.terms:
        condition = term_condition(term, project_ids, searcher)
        query = query.where(~condition if term.negated else condition)
    if search.words:
        text = ' '.join(search.words)
        query = query.where(or_(groups.c.message.icontains(text, autoescape=True),
                                groups.c.culprit.icontains(text, autoescape=True)))
    return query


def term_condition(term: Term, project_ids: list[str], searcher: Searcher) -> ColumnElement[bool]:
    key, value = term.key, term.value
    if key == 'is':
        return is_condition(value, searcher)
    if key == 'assigned':
        return func.coalesce(groups.c.assignee_id.in_(user_ids(value, searcher)), false())
    if key in ('bookmarks', 'subscribed'):
        return marked(key, user_ids(value, searcher))
    if key == 'release':
        return tag_condition('release', latest_release() if value == 'latest' else value, project_ids)
    if key in ('first-release', 'firstRelease'):
        wanted = latest_release() if value == 'latest' else value
        return func.coalesce(groups.c.first_release == wanted, false())
    if key == 'has':
        return groups.c.id.in_(select(group_tag_values.c.group_id).where(
            group_tag_values.c.project_id.in_(project_ids), group_tag_values.c.key == standard_key(value)))
    if key in DATE_KEYS:
        return date_condition(groups.c[DATE_KEYS[key]], value, searcher.now)
    if key in ('timesSeen', 'times_seen'):
        return number_condition(groups.c.times_seen, value)
    if key in USER_TAG_PREFIXES:
        return tag_condition('user', f'{USER_TAG_PREFIXES[key]}:{value}', project_ids)
    return tag_condition(standard_key(key), value, project_ids)


def standard_key(key: str) -> str:
    return key[len('sentry:'):] if key.startswith('sentry:') else key


def is_condition(value: str, searcher: Searcher) -> ColumnElement[bool]:
    if value in STATUSES:
        return status_condition(value, searcher.now)
    if value == 'assigned':
        return groups.c.assignee_id.is_not(None)
    if value == 'unassigned':
        return groups.c.assignee_id.is_(None)
    me = [searcher.user_id] if searcher.user_id else []
    return marked('bookmarks' if value == 'bookmarked' else 'subscribed', me)


def user_ids(value: str, searcher: Searcher) -> Any:
    """The users a `me`, email, username or public id names (a subquery, or a list)."""
    if value == 'me':
        return [searcher.user_id] if searcher.user_id else []
    named = or_(users.c.email == value.lower(), users.c.username == value)
    if public_number(value) is not None:
        named = or_(named, users.c.number == public_number(value))
    return select(users.c.id).where(named)


def marked(key: str, who: Any) -> ColumnElement[bool]:
    flag = group_users.c.bookmarked if key == 'bookmarks' else group_users.c.subscribed
    return groups.c.id.in_(select(group_users.c.group_id).where(group_users.c.user_id.in_(who), flag.is_(True)))


def tag_condition(key: str, value: Any, project_ids: list[str]) -> ColumnElement[bool]:
    """Issues with an event that had this tag value (`value` may be a correlated subquery)."""
    t = group_tag_values.c
    if isinstance(value, str):
        return groups.c.id.in_(select(t.group_id).where(t.project_id.in_(project_ids), t.key == key,
                                                        t.value == value))
    return exists(select(t.group_id).where(t.group_id == groups.c.id, t.key == key, t.value == value))


def latest_release() -> Any:
    """The issue's project's latest release, by COALESCE(date released, date created), as Sentry picks it."""
    return (select(releases.c.version).join(release_projects, release_projects.c.release_id == releases.c.id)
            .where(release_projects.c.project_id == groups.c.project_id)
            .order_by(releases.c.sort_date.desc(), releases.c.number.desc()).limit(1)
            .correlate(groups).scalar_subquery())


def number_condition(column: Any, value: str) -> ColumnElement[bool]:
    match = NUMBER.match(value)
    if match is None:
        raise InvalidQuery(f'Invalid format for numeric search: {value}')
    return compare(column, match.group(1) or '=', bounded(capped_number(match.group(2), BIGINT_MAX)))


def bounded(value: int) -> int:
    return max(-BIGINT_MAX, min(value, BIGINT_MAX))


def compare(column: Any, operator: str, value: int) -> ColumnElement[bool]:
    return {'>': column > value, '>=': column >= value, '<': column < value, '<=': column <= value,
            '=': column == value}[operator]


def date_condition(column: Any, value: str, now: int) -> ColumnElement[bool]:
    """`-1h` newer than, `+1h` older than (m, h, d, w); `>`, `>=`, `<`, `<=` a
    moment; a bare day (that whole day) or moment (a few minutes around it)."""
    invalid = InvalidQuery(f'{value} is not a valid datetime query')
    if value[0] in '+-':
        count, unit = value[1:-1], value[-1]
        if not (count.isascii() and count.isdigit() and len(count) <= 9) or unit not in UNITS:
            raise invalid
        moment = now - int(count) * UNITS[unit]
        return column >= moment if value[0] == '-' else column <= moment
    comparison = COMPARISON.match(value)
    if comparison is not None:
        start, _ = moment_range(comparison.group(2), invalid)
        return compare(column, comparison.group(1), start)
    start, end = moment_range(value, invalid)
    return and_(column >= start, column < end)


def moment_range(text: str, invalid: InvalidQuery) -> tuple[int, int]:
    """A day, a date-time (naive means UTC; a trailing Z is fine) or epoch seconds,
    as [start, end) in epoch ms."""
    text = text.rstrip('Z')
    try:
        if re.fullmatch(r'\d+(\.\d+)?', text):
            moment = bounded(int(Decimal(text) * 1000))
            return bounded(moment - EXACT_WINDOW[0]), bounded(moment + EXACT_WINDOW[1])
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise invalid from None
    moment = int(parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).timestamp() * 1000)
    if 'T' not in text and ' ' not in text:
        return moment, moment + UNITS['d']
    return moment - EXACT_WINDOW[0], moment + EXACT_WINDOW[1]

