import random

import pytest
from sqlalchemy import Column
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import insert
from sqlalchemy import select

from sentrail.projections.keyset import Cursor
from sentrail.projections.keyset import InvalidCursor
from sentrail.projections.keyset import count_hits
from sentrail.projections.keyset import paginate

metadata = MetaData()
items = Table(
    'items', metadata,
    Column('id', Integer, primary_key=True),
    Column('name', String(20), nullable=False),
    Column('seen', Integer, nullable=False, index=True),
    Column('kind', String(10), nullable=False, default='a'),
)

# The reference's worked example (§4.4): desc by key, limit 3.
EXAMPLE = [('A', 1000), ('B', 900), ('C', 900), ('D', 900), ('E', 800),
           ('F', 700), ('G', 600), ('H', 600), ('I', 500), ('J', 400)]


@pytest.fixture
def conn(tmp_path):
    engine = create_engine(f'sqlite:///{tmp_path / "keyset.db"}')
    metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def add(conn, rows, kind='a'):
    conn.execute(insert(items), [{'name': name, 'seen': seen, 'kind': kind} for name, seen in rows])


def page_of(conn, cursor, limit=3, descending=True, tiebreak=None, stmt=None):
    return paginate(
        conn, stmt if stmt is not None else select(items), items.c.seen,
        descending=descending, cursor=Cursor.parse(cursor), limit=limit, tiebreak=tiebreak,
    )


def names(page):
    return [row.name for row in page.rows]


def links(page):
    return (str(page.next), page.next.has_results, str(page.prev), page.prev.has_results)


class TestWorkedExample:
    TABLE = [
        (None, {'A', 'D', 'C'}, ('900:2:0', True, '1000:0:1', False)),
        ('900:2:0', {'B', 'E', 'F'}, ('600:0:0', True, '900:0:1', True)),
        ('600:0:0', {'H', 'G', 'I'}, ('400:0:0', True, '600:0:1', True)),
        ('400:0:0', {'J'}, ('400:3:0', False, '400:0:1', True)),
    ]

    def test_each_row_of_the_table(self, conn):
        add(conn, EXAMPLE)
        for cursor, expected_rows, expected_links in self.TABLE:
            page = page_of(conn, cursor)
            assert set(names(page)) == expected_rows, cursor
            assert links(page) == expected_links, cursor

    def test_following_next_links_walks_the_table(self, conn):
        add(conn, EXAMPLE)
        cursor = None
        for _, expected_rows, expected_links in self.TABLE:
            page = page_of(conn, cursor)
            assert set(names(page)) == expected_rows
            assert links(page) == expected_links
            cursor = str(page.next)
        assert not page.next.has_results

    def test_tiebreak_fixes_the_order_among_ties(self, conn):
        # Ids follow the letters, so id-descending ties give the table's own order.
        add(conn, EXAMPLE)
        seen = [names(page_of(conn, cursor, tiebreak=items.c.id)) for cursor, _, _ in self.TABLE]
        assert seen == [['A', 'D', 'C'], ['B', 'E', 'F'], ['H', 'G', 'I'], ['J']]

    def test_previous_of_the_second_page_is_the_first(self, conn):
        add(conn, EXAMPLE)
        page = page_of(conn, '900:0:1', tiebreak=items.c.id)
        assert names(page) == ['A', 'D', 'C']
        assert links(page) == ('900:0:0', True, '1000:0:1', False)

    def test_cursors_carry_the_key_not_the_row(self, conn):
        add(conn, EXAMPLE)
        page = page_of(conn, None)
        assert [row.sort_key for row in page.rows] == [1000, 900, 900]


def test_empty_list(conn):
    page = page_of(conn, None)
    assert page.rows == []
    assert links(page) == ('0:0:0', False, '0:0:1', False)


def test_empty_list_with_a_filter_that_matches_nothing(conn):
    add(conn, EXAMPLE)
    page = page_of(conn, None, stmt=select(items).where(items.c.kind == 'b'))
    assert page.rows == []
    assert not page.next.has_results


def test_single_page_has_no_next_and_no_previous(conn):
    add(conn, [('A', 3), ('B', 2), ('C', 1)])
    page = page_of(conn, None)
    assert names(page) == ['A', 'B', 'C']
    assert links(page) == ('1:1:0', False, '3:0:1', False)


def test_exactly_one_extra_row_makes_a_last_page_of_one(conn):
    add(conn, [('A', 4), ('B', 3), ('C', 2), ('D', 1)])
    first = page_of(conn, None)
    assert names(first) == ['A', 'B', 'C']
    assert links(first) == ('1:0:0', True, '4:0:1', False)
    last = page_of(conn, str(first.next))
    assert names(last) == ['D']
    assert links(last) == ('1:3:0', False, '1:0:1', True)


def test_past_the_end_is_empty_and_keeps_the_cursor(conn):
    add(conn, EXAMPLE)
    page = page_of(conn, '400:3:0')
    assert page.rows == []
    assert links(page) == ('400:3:0', False, '0:0:1', True)


def test_a_page_made_only_of_ties_moves_by_offset(conn):
    add(conn, [(f'T{n}', 500) for n in range(7)] + [('Z', 100)])
    first = page_of(conn, None, tiebreak=items.c.id)
    assert links(first) == ('500:3:0', True, '500:0:1', False)
    second = page_of(conn, str(first.next), tiebreak=items.c.id)
    assert links(second)[:2] == ('500:6:0', True)
    third = page_of(conn, str(second.next), tiebreak=items.c.id)
    assert names(third) == ['T0', 'Z']
    assert links(third)[:2] == ('100:1:0', False)
    assert names(first) + names(second) == ['T6', 'T5', 'T4', 'T3', 'T2', 'T1']


def test_filters_of_the_statement_are_kept(conn):
    add(conn, EXAMPLE)
    add(conn, [('X', 950), ('Y', 850)], kind='b')
    stmt = select(items).where(items.c.kind == 'b')
    page = page_of(conn, None, stmt=stmt)
    assert names(page) == ['X', 'Y']
    assert not page.next.has_results


class TestAscending:
    def test_walk_forward(self, conn):
        add(conn, EXAMPLE)
        first = page_of(conn, None, descending=False, tiebreak=items.c.id)
        assert names(first) == ['J', 'I', 'G']
        assert links(first) == ('600:1:0', True, '400:0:1', False)
        second = page_of(conn, str(first.next), descending=False, tiebreak=items.c.id)
        assert names(second) == ['H', 'F', 'E']
        assert links(second) == ('900:0:0', True, '600:0:1', True)
        third = page_of(conn, str(second.next), descending=False, tiebreak=items.c.id)
        assert names(third) == ['B', 'C', 'D']
        assert links(third) == ('1000:0:0', True, '900:0:1', True)
        last = page_of(conn, str(third.next), descending=False, tiebreak=items.c.id)
        assert names(last) == ['A']
        assert links(last) == ('1000:3:0', False, '1000:0:1', True)

    def test_previous_of_the_second_page_is_the_first(self, conn):
        add(conn, [(f'R{n}', n * 10) for n in range(1, 10)])
        second = page_of(conn, '40:0:0', descending=False)
        assert names(second) == ['R4', 'R5', 'R6']
        back = page_of(conn, str(second.prev), descending=False)
        assert names(back) == ['R1', 'R2', 'R3']
        assert not back.prev.has_results


class TestPreviousPages:
    def test_back_and_forth_with_distinct_keys(self, conn):
        add(conn, [(f'R{n}', n * 100) for n in range(1, 11)])
        first = page_of(conn, None)
        second = page_of(conn, str(first.next))
        third = page_of(conn, str(second.next))
        assert names(third) == ['R4', 'R3', 'R2']
        back = page_of(conn, str(third.prev))
        assert names(back) == names(second) == ['R7', 'R6', 'R5']
        assert links(back) == ('400:0:0', True, '700:0:1', True)
        front = page_of(conn, str(back.prev))
        assert names(front) == names(first) == ['R10', 'R9', 'R8']
        assert links(front) == ('700:0:0', True, '1000:0:1', False)

    def test_next_of_a_previous_page_resumes_forward(self, conn):
        add(conn, [(f'R{n}', n * 100) for n in range(1, 11)])
        back = page_of(conn, '400:0:1')
        assert names(page_of(conn, str(back.next))) == ['R4', 'R3', 'R2']


class TestPolling:
    def test_first_page_previous_cursor_returns_rows_added_later(self, conn):
        add(conn, [('A', 1000), ('B', 900), ('C', 800), ('D', 700)])
        first = page_of(conn, None)
        assert links(first)[2:] == ('1000:0:1', False)

        nothing_yet = page_of(conn, str(first.prev))
        assert nothing_yet.rows == []
        assert links(nothing_yet) == ('1000:0:0', True, '1000:0:1', False)

        add(conn, [('N1', 1100), ('N2', 1200)])
        assert nothing_yet.prev == first.prev
        poll = page_of(conn, str(nothing_yet.prev))
        assert names(poll) == ['N2', 'N1']
        assert poll.next.has_results
        assert str(poll.prev) == '1200:0:1'

        add(conn, [('N3', 1300)])
        assert names(page_of(conn, str(poll.prev))) == ['N3']

    def test_more_new_rows_than_a_page_says_results_true(self, conn):
        add(conn, [('A', 1000)])
        first = page_of(conn, None)
        add(conn, [(f'N{n}', 1000 + n) for n in range(1, 6)])
        poll = page_of(conn, str(first.prev))
        # The oldest new rows come first, so nothing is skipped between polls.
        assert names(poll) == ['N3', 'N2', 'N1']
        assert links(poll)[2:] == ('1003:0:1', True)
        rest = page_of(conn, str(poll.prev))
        assert names(rest) == ['N5', 'N4']
        assert links(rest)[2:] == ('1005:0:1', False)

    def test_polling_an_empty_list(self, conn):
        first = page_of(conn, None)
        add(conn, [('A', 1000), ('B', 2000)])
        assert names(page_of(conn, str(first.prev))) == ['B', 'A']


@pytest.mark.parametrize('descending', [True, False])
@pytest.mark.parametrize('limit', [100, 7])
def test_walk_sees_every_row_once_despite_many_ties(conn, descending, limit):
    rng = random.Random(22)
    keys = [1_500_000_000_000 + rng.randrange(20) * 1000 for _ in range(3000)]
    add(conn, [(f'R{n}', key) for n, key in enumerate(keys)])
    seen = []
    cursor = None
    while True:
        page = paginate(
            conn, select(items.c.id, items.c.seen), items.c.seen,
            descending=descending, cursor=cursor, limit=limit, tiebreak=items.c.id,
        )
        assert len(page.rows) <= limit
        seen.extend((row.seen, row.id) for row in page.rows)
        if not page.next.has_results:
            break
        assert len(page.rows) == limit
        cursor = Cursor.parse(str(page.next))
    assert len(seen) == 3000
    assert seen == sorted(seen, reverse=descending)


def test_rejects_a_limit_below_one(conn):
    with pytest.raises(ValueError):
        page_of(conn, None, limit=0)


class TestCursorText:
    def test_round_trip(self):
        assert str(Cursor(1420837590000, 2, True)) == '1420837590000:2:1'
        assert Cursor.parse('1420837590000:2:1') == Cursor(1420837590000, 2, True)
        assert Cursor.parse('9223372036854775807:0:0').value == 2**63 - 1
        assert Cursor.parse('-5:0:0').value == -5

    def test_value_is_a_float_truncated_like_sentry(self):
        assert Cursor.parse('1420837590.9:0:0') == Cursor(1420837590, 0, False)
        assert Cursor.parse('1e3:0:1') == Cursor(1000, 0, True)

    @pytest.mark.parametrize('text', [None, ''])
    def test_empty_means_first_page(self, text):
        assert Cursor.parse(text) is None

    @pytest.mark.parametrize('text', [
        'abc', '1:2', '1:2:3:4', ':0:0', '1::0', '1:0:', 'x:0:0', '1:y:0', '1:0:z',
        '1:-1:0', '1:0:2', '1:0:-1', '1:1.5:0', 'nan:0:0', 'inf:0:0', '1e30:0:0',
        '9223372036854775808:0:0', '-9223372036854775809:0:0', f'1:{2**63}:0',
    ])
    def test_malformed(self, text):
        with pytest.raises(InvalidCursor):
            Cursor.parse(text)

    def test_invalid_cursor_is_a_value_error(self):
        assert issubclass(InvalidCursor, ValueError)


class TestCountHits:
    def test_counts_matches(self, conn):
        add(conn, EXAMPLE)
        add(conn, [('X', 1), ('Y', 2)], kind='b')
        assert count_hits(conn, select(items)) == 12
        assert count_hits(conn, select(items).where(items.c.kind == 'b')) == 2

    def test_stops_at_max_hits(self, conn):
        add(conn, [(f'R{n}', n) for n in range(30)])
        assert count_hits(conn, select(items), max_hits=10) == 10
        assert count_hits(conn, select(items).order_by(items.c.seen), max_hits=30) == 30

    def test_empty(self, conn):
        assert count_hits(conn, select(items)) == 0
