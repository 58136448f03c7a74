"""An issue's notes: `issues/{issue}/notes/` (alias `comments/`, and `groups/`
for `issues/`) lists and creates them, `…/notes/{note}/` edits and deletes
one's own. A note's id is its activity entry's, as in Sentry."""
from __future__ import annotations

import time
from uuid import UUID

import falcon

from sentrail.commands.issues import CreateNote, DeleteNote, EditNote
from sentrail.domain.group import DUPLICATE_NOTE, NOTE_REPEAT_MS
from sentrail.domain.note import check_text
from sentrail.domain.sequence import public_number
from sentrail.http.errors import FieldErrors, JSONError, forbidden, not_found
from sentrail.http.payload import read_json
from sentrail.http.resource import Resource
from sentrail.http.resources.issues import GROUP_SCOPES, IngestedResource, entries, find_issue, is_project_member, page_of
from sentrail.projections import issues
from sentrail.projections.issues import activity
from sentrail.services import Services

NO_EDIT = "Key doesn't have permission to edit Note"
NO_DELETE = "Key doesn't have permission to delete Note"
NON_MEMBER = 'Cannot mention a non-team member'


def note_text(body: dict) -> str:
    text = body.get('text')
    if not isinstance(text, str) or not text.strip():
        raise FieldErrors({'text': ['This field is required.']})
    return check_text(text)


class NoteListResource(IngestedResource):
    """Notes newest first (keyset by id); a new note subscribes its author and
    those it mentions. The same text from the same user within an hour is refused
    with Sentry's JSON-string body."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            page = page_of(req, resp, self.services.config.url_prefix, conn, issues.notes_query(found.group.id),
                           activity.c.id)
            resp.media = entries(conn, page.rows)

    def on_post(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        body = read_json(req)
        text = note_text(body)
        auth = self.auth(req)
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            mentions = self._mentions(conn, found, body.get('mentions'))
            since = int(time.time() * 1000) - NOTE_REPEAT_MS
            if auth.user is not None and issues.recent_note(conn, found.group.id, str(auth.user.number), text, since):
                raise JSONError(falcon.HTTP_400, f'{{"detail": "{DUPLICATE_NOTE}"}}')  # type: ignore[arg-type]
        outcome = self.services.execute(CreateNote(
            group_id=UUID(found.group.id), text=text, actor=auth.actor(),
            user_id=UUID(auth.user.id) if auth.user is not None else None, mentions=mentions))
        with self.services.read() as conn:
            entry = issues.note_entry(conn, found.group.id, int(outcome.id))
            resp.media = entries(conn, [entry])[0]
        resp.status = falcon.HTTP_201

    @staticmethod
    def _mentions(conn, found, value) -> tuple:  # type: ignore[no-untyped-def]
        """Mentioned users (public ids), who must be members of the issue's project."""
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FieldErrors({'mentions': ['Enter a list of items.']})
        mentioned = []
        for reference in value:
            user = issues.user_by_reference(conn, str(reference)) if isinstance(reference, (str, int)) else None
            if user is None or not is_project_member(conn, found.org, found.project, user.id):
                raise FieldErrors({'mentions': [NON_MEMBER]})
            mentioned.append(UUID(user.id))
        return tuple(dict.fromkeys(mentioned))


class NoteResource(IngestedResource):
    """One's own note: PUT `{"text"}` answers it, DELETE 204. API keys have no
    user, so Sentry refuses them; someone else's note is not found."""

    scopes = GROUP_SCOPES

    def _own(self, req: falcon.Request, issue: str, note: str, refusal: str):  # type: ignore[no-untyped-def]
        auth = self.auth(req)
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            if auth.user is None:
                raise forbidden(refusal)
            number = public_number(note)
            entry = issues.note_entry(conn, found.group.id, number) if number is not None else None
            if entry is None or entry.user_id != str(auth.user.number) or entry.note_id is None:
                raise not_found()
        return found, entry

    def on_put(self, req: falcon.Request, resp: falcon.Response, issue: str, note: str) -> None:
        text = note_text(read_json(req))
        found, entry = self._own(req, issue, note, NO_EDIT)
        auth = self.auth(req)
        self.services.execute(EditNote(note_id=UUID(entry.note_id), text=text, actor=auth.actor(),
                                       user_id=UUID(auth.user.id)))
        with self.services.read() as conn:
            resp.media = entries(conn, [issues.note_entry(conn, found.group.id, entry.id)])[0]

    def on_delete(self, req: falcon.Request, resp: falcon.Response, issue: str, note: str) -> None:
        _, entry = self._own(req, issue, note, NO_DELETE)
        auth = self.auth(req)
        self.services.execute(DeleteNote(note_id=UUID(entry.note_id), actor=auth.actor(),
                                         user_id=UUID(auth.user.id)))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    listing, one = NoteListResource(services), NoteResource(services)
    found: list[tuple[str, Resource]] = []
    for kind in ('issues', 'groups'):
        for notes in ('notes', 'comments'):
            found += [(f'/api/0/{kind}/{{issue}}/{notes}/', listing),
                      (f'/api/0/{kind}/{{issue}}/{notes}/{{note}}/', one)]
    return found
