import falcon
import pytest
from falcon.testing import create_req

from sentrail.http.pagination import cursor_param
from sentrail.http.pagination import link_header
from sentrail.http.pagination import page_size
from sentrail.http.pagination import set_link
from sentrail.projections.keyset import Cursor
from sentrail.projections.keyset import Page

PREFIX = 'https://sentry.example.com/'


def page(prev, prev_results, next_, next_results):
    return Page([], next=Cursor(*next_, False, next_results), prev=Cursor(*prev, True, prev_results))


ISSUES_PAGE = page((1510595999000, 0), False, (1510593120000, 0), True)


class TestLinkHeader:
    def test_reference_example_byte_for_byte(self):
        header = link_header(
            PREFIX, '/api/0/projects/acme/web/issues/',
            [('query', 'is:unresolved'), ('cursor', '1510595999000:0:0')], ISSUES_PAGE,
        )
        assert header == (
            '<https://sentry.example.com/api/0/projects/acme/web/issues/?query=is%3Aunresolved'
            '&cursor=1510595999000:0:1>; rel="previous"; results="false"; cursor="1510595999000:0:1", '
            '<https://sentry.example.com/api/0/projects/acme/web/issues/?query=is%3Aunresolved'
            '&cursor=1510593120000:0:0>; rel="next"; results="true"; cursor="1510593120000:0:0"'
        )

    def test_no_other_params_gives_question_mark_ampersand(self):
        header = link_header(
            'https://sentry.example.com', '/api/0/issues/12/notes/', [('cursor', '')],
            page((345, 0), False, (345, 100), False),
        )
        assert header == (
            '<https://sentry.example.com/api/0/issues/12/notes/?&cursor=345:0:1>; rel="previous"; '
            'results="false"; cursor="345:0:1", '
            '<https://sentry.example.com/api/0/issues/12/notes/?&cursor=345:100:0>; rel="next"; '
            'results="false"; cursor="345:100:0"'
        )

    def test_quotes_keys_and_values_but_not_slashes(self):
        header = link_header(
            'http://host', '/p/',
            [('query', 'is:unresolved level:error'), ('a b', 'x/y&z=1'), ('e', 'é')], ISSUES_PAGE,
        )
        assert header.startswith(
            '<http://host/p/?query=is%3Aunresolved%20level%3Aerror&a%20b=x/y%26z%3D1&e=%C3%A9'
            '&cursor=1510595999000:0:1>'
        )

    def test_keeps_repeated_params_in_order_and_blank_values(self):
        header = link_header(
            'http://host', '/p/', [('id', '1'), ('cursor', 'x'), ('id', '2'), ('query', '')], ISSUES_PAGE,
        )
        assert header.startswith('<http://host/p/?id=1&id=2&query=&cursor=1510595999000:0:1>')

    def test_quotes_the_path_like_sentry(self):
        header = link_header('http://host', '/releases/1.0 beta/', [], ISSUES_PAGE)
        assert header.startswith('<http://host/releases/1.0%20beta/?&cursor=')

    def test_prefix_with_a_path_keeps_it(self):
        header = link_header('https://example.com/sentry/', '/api/0/', [], ISSUES_PAGE)
        assert header.startswith('<https://example.com/sentry/api/0/?&cursor=')


class TestSetLink:
    def test_builds_from_the_request(self):
        req = create_req(path='/api/0/projects/acme/web/issues/',
                         query_string='query=is:unresolved%20level:error&cursor=1:0:0&id=1&id=2')
        resp = falcon.Response()
        set_link(resp, req, PREFIX, ISSUES_PAGE)
        assert resp.get_header('Link') == link_header(
            PREFIX, '/api/0/projects/acme/web/issues/',
            [('query', 'is:unresolved level:error'), ('id', '1'), ('id', '2')], ISSUES_PAGE,
        )
        assert '?query=is%3Aunresolved%20level%3Aerror&id=1&id=2&cursor=' in resp.get_header('Link')

    def test_sentry_cli_first_request(self):
        req = create_req(path='/api/0/organizations/', query_string='cursor=')
        resp = falcon.Response()
        set_link(resp, req, PREFIX, ISSUES_PAGE)
        assert resp.get_header('Link').startswith(
            '<https://sentry.example.com/api/0/organizations/?&cursor=1510595999000:0:1>; rel="previous"'
        )


class TestPageSize:
    def test_default_when_absent(self):
        assert page_size(create_req()) == 100
        assert page_size(create_req(), default=25) == 25

    def test_reads_the_parameter(self):
        assert page_size(create_req(query_string='per_page=50')) == 50
        assert page_size(create_req(query_string='per_page=100')) == 100

    @pytest.mark.parametrize('value', ['abc', '', '1.5', '0', '-3'])
    def test_rejects_nonsense(self, value):
        with pytest.raises(falcon.HTTPBadRequest) as raised:
            page_size(create_req(query_string=f'per_page={value}'))
        assert raised.value.description == 'Invalid per_page parameter.'

    def test_rejects_above_maximum(self):
        with pytest.raises(falcon.HTTPBadRequest) as raised:
            page_size(create_req(query_string='per_page=101'))
        assert raised.value.description == 'Invalid per_page value. Cannot exceed 100.'

    def test_limit_of_the_issue_list(self):
        assert page_size(create_req(query_string='limit=25'), name='limit') == 25
        assert page_size(create_req(), name='limit') == 100

    @pytest.mark.parametrize('value', ['abc', '', '0'])
    def test_limit_rejects_nonsense(self, value):
        with pytest.raises(falcon.HTTPBadRequest) as raised:
            page_size(create_req(query_string=f'limit={value}'), name='limit')
        assert raised.value.description == 'invalid limit'

    def test_limit_above_maximum_is_clamped_like_sentry(self):
        assert page_size(create_req(query_string='limit=1000'), name='limit') == 100


class TestCursorParam:
    def test_absent_or_blank_is_the_first_page(self):
        assert cursor_param(create_req()) is None
        assert cursor_param(create_req(query_string='cursor=')) is None

    def test_parses(self):
        assert cursor_param(create_req(query_string='cursor=1420837590000:2:1')) == Cursor(1420837590000, 2, True)

    @pytest.mark.parametrize('value', ['nope', '1:2', '1:0:5'])
    def test_malformed_is_a_400(self, value):
        with pytest.raises(falcon.HTTPBadRequest) as raised:
            cursor_param(create_req(query_string=f'cursor={value}'))
        assert raised.value.description == 'Invalid cursor parameter.'
