"""Sentry's JSON shapes as JSON Schema (OpenAPI 3.1 components), one per
serializer in sentrail/http/serializers, under the same names.

This is the one place a shape is described: the OpenAPI document refers to
these names, and tests validate real answers against them, so a serializer
that changes a field without changing its schema here fails a test. Response
shapes list every field a serializer always writes as required and refuse
others (`closed`); the issue family, still growing, is `open` (it may add
fields, but may not drop or retype the ones below). Request bodies are open:
Sentry ignores fields it does not know, and so does sentrail.
"""
from __future__ import annotations

from typing import Any

from sentrail.domain.group import ignore_maximum
from sentrail.domain.repository import PROVIDERS
from sentrail.domain.roles import ROLE_ORDER, SCOPES

STR = {'type': 'string'}
INT = {'type': 'integer'}
BOOL = {'type': 'boolean'}
DATE = {'type': 'string', 'format': 'date-time'}
OBJECT = {'type': 'object'}
NULL = {'type': 'null'}
ANY: dict = {}


def ref(name: str) -> dict:
    return {'$ref': f'#/components/schemas/{name}'}


def nullable(schema: dict) -> dict:
    return {'anyOf': [schema, NULL]}


def array(items: dict) -> dict:
    return {'type': 'array', 'items': items}


def closed(required: dict, optional: dict | None = None) -> dict:
    """An answer's object: every field in `required` is always there, those in
    `optional` sometimes, and nothing else."""
    return {'type': 'object', 'properties': {**required, **(optional or {})}, 'required': list(required),
            'additionalProperties': False}


def open_(required: dict, optional: dict | None = None) -> dict:
    return {**closed(required, optional), 'additionalProperties': True}


def extends(base: str, required: dict, optional: dict | None = None, *, strict: bool = True) -> dict:
    """`base`'s fields plus more, as the serializers build one shape on another."""
    merged = {**SCHEMAS[base]['properties'], **required}
    shape = closed(merged, {**_optional(base), **(optional or {})})
    shape['required'] = SCHEMAS[base]['required'] + list(required)
    shape['additionalProperties'] = SCHEMAS[base]['additionalProperties'] if strict else True
    return shape


def _optional(base: str) -> dict:
    schema = SCHEMAS[base]
    return {k: v for k, v in schema['properties'].items() if k not in schema['required']}


def body(properties: dict, required: tuple[str, ...] = ()) -> dict:
    """A request body: the fields sentrail reads (others are ignored, as in Sentry)."""
    shape: dict[str, Any] = {'type': 'object', 'properties': properties}
    if required:
        shape['required'] = list(required)
    return shape


def text(max_length: int | None = None, min_length: int | None = None) -> dict:
    shape = dict(STR)
    if max_length is not None:
        shape['maxLength'] = max_length
    if min_length is not None:
        shape['minLength'] = min_length
    return shape


AVATAR = closed({'avatarType': STR, 'avatarUuid': nullable(STR)})
SCOPE = {'type': 'string', 'enum': list(SCOPES)}
ROLE = {'type': 'string', 'enum': list(ROLE_ORDER)}
SERIES = array({'type': 'array', 'items': INT, 'minItems': 2, 'maxItems': 2})

SCHEMAS: dict[str, dict] = {}

# --- errors (http/errors.py) -----------------------------------------------------------------------
SCHEMAS['Error'] = {
    'type': 'object',
    'description': '{"detail": message}; field validation errors are {"field": ["message"]} instead.',
    'properties': {'detail': STR, 'errorId': STR},
    'additionalProperties': True,
}

# --- serializers/users.py ----------------------------------------------------------------------------
SCHEMAS['User'] = closed({
    'id': STR, 'name': STR, 'username': STR, 'email': STR, 'avatarUrl': STR, 'isActive': BOOL,
    'isManaged': BOOL, 'dateJoined': DATE, 'lastLogin': nullable(DATE), 'has2fa': BOOL,
    'lastActive': nullable(DATE), 'isSuperuser': BOOL, 'avatar': AVATAR,
    'emails': array(closed({'id': STR, 'email': STR, 'is_verified': BOOL})),
}, {
    'options': closed({'language': STR, 'stacktraceOrder': STR, 'timezone': STR, 'clock24Hours': BOOL}),
    'identities': array(OBJECT),
})
SCHEMAS['DetailedUser'] = extends('User', {'authenticators': array(OBJECT)})
SCHEMAS['ApiToken'] = closed({
    'id': STR, 'scopes': array(SCOPE), 'application': NULL, 'expiresAt': nullable(DATE), 'dateCreated': DATE,
    'token': STR,
})
SCHEMAS['Root'] = closed({
    'version': {'const': '0'},
    'auth': nullable(closed({'scopes': array(SCOPE)})),
    'user': nullable(ref('User')),
})

# --- serializers/organizations.py ----------------------------------------------------------------------
SCHEMAS['Organization'] = closed({
    'id': STR, 'slug': STR, 'name': STR, 'dateCreated': DATE, 'isEarlyAdopter': BOOL, 'require2FA': BOOL,
    'requireEmailVerification': BOOL, 'avatar': AVATAR, 'status': closed({'id': STR, 'name': STR}),
    'features': array(STR),
})
SCHEMAS['DetailedOrganization'] = extends('Organization', {
    'quota': closed({'maxRate': nullable(INT), 'maxRateInterval': nullable(INT), 'accountLimit': INT,
                     'projectLimit': INT}),
    'isDefault': BOOL, 'defaultRole': ROLE, 'availableRoles': array(closed({'id': ROLE, 'name': STR})),
    'openMembership': BOOL, 'allowSharedIssues': BOOL, 'enhancedPrivacy': BOOL, 'dataScrubber': BOOL,
    'dataScrubberDefaults': BOOL, 'scrubIPAddresses': BOOL, 'sensitiveFields': array(STR),
    'safeFields': array(STR), 'teams': array(ref('TeamWithProjects')), 'projects': array(ref('Project')),
    'access': array(SCOPE), 'pendingAccessRequests': INT, 'onboardingTasks': array(OBJECT),
})

# --- serializers/teams.py ----------------------------------------------------------------------------------
SCHEMAS['Team'] = closed({
    'id': STR, 'slug': STR, 'name': STR, 'dateCreated': DATE, 'isMember': BOOL, 'hasAccess': BOOL,
    'isPending': BOOL, 'avatar': AVATAR,
})
SCHEMAS['TeamWithProjects'] = extends('Team', {'projects': array(ref('Project'))})
SCHEMAS['TeamDetail'] = extends('Team', {'organization': ref('Organization')})

# --- serializers/projects.py ---------------------------------------------------------------------------
SCHEMAS['Project'] = closed({
    'id': STR, 'slug': STR, 'name': STR, 'isPublic': BOOL, 'isBookmarked': BOOL, 'callSign': STR, 'color': STR,
    'dateCreated': DATE, 'firstEvent': nullable(DATE), 'features': array(STR), 'status': STR,
    'platform': nullable(STR), 'isInternal': BOOL, 'isMember': BOOL, 'hasAccess': BOOL, 'avatar': AVATAR,
})
SCHEMAS['ProjectWithTeam'] = extends('Project', {'team': nullable(ref('Team'))}, {'stats': SERIES})
SCHEMAS['ProjectWithOrganization'] = extends('Project', {'organization': ref('Organization')})
SCHEMAS['DetailedProject'] = extends('ProjectWithTeam', {
    'organization': ref('Organization'), 'options': OBJECT, 'digestsMinDelay': INT, 'digestsMaxDelay': INT,
    'subjectPrefix': STR, 'subjectTemplate': STR, 'latestRelease': nullable(OBJECT), 'plugins': array(ANY),
    'platforms': array(STR), 'processingIssues': INT, 'defaultEnvironment': nullable(STR),
})

# --- serializers/members.py ----------------------------------------------------------------------------
SCHEMAS['OrganizationMember'] = closed({
    'id': STR, 'email': STR, 'name': STR, 'user': nullable(ref('User')), 'role': ROLE, 'roleName': STR,
    'pending': BOOL, 'flags': closed({'sso:linked': BOOL, 'sso:invalid': BOOL}), 'dateCreated': DATE,
}, {'teams': array(STR)})
SCHEMAS['Role'] = closed({'id': ROLE, 'name': STR, 'desc': STR, 'scopes': array(SCOPE), 'is_global': BOOL})
SCHEMAS['OrganizationMemberDetail'] = extends('OrganizationMember', {
    'allowed_roles': array(closed({'role': ref('Role'), 'allowed': BOOL})),
})

# --- serializers/apikeys.py, serializers/projectkeys.py ---------------------------------------------------
SCHEMAS['ApiKey'] = closed({
    'id': STR, 'label': STR, 'key': STR, 'scope_list': array(SCOPE), 'status': {'type': 'integer', 'enum': [0, 1]},
    'allowed_origins': STR,
})
SCHEMAS['ProjectKey'] = closed({
    'id': STR, 'name': STR, 'label': STR, 'public': STR, 'secret': STR, 'projectId': INT, 'isActive': BOOL,
    'rateLimit': nullable(closed({'window': INT, 'count': INT})),
    'dsn': closed({'secret': STR, 'public': STR, 'csp': STR, 'minidump': STR}), 'dateCreated': DATE,
})

# --- serializers/audit.py --------------------------------------------------------------------------------
SCHEMAS['AuditLogEntry'] = closed({
    'id': STR,
    'actor': closed({'name': nullable(STR), 'type': STR}, {'id': STR, 'email': nullable(STR)}),
    'event': STR, 'ipAddress': nullable(STR), 'note': STR, 'targetObject': nullable(INT), 'targetUser': ANY,
    'data': OBJECT, 'dateCreated': DATE,
})

# --- serializers/releases.py ---------------------------------------------------------------------------
SCHEMAS['Repository'] = closed({
    'id': STR, 'name': STR, 'url': nullable(STR), 'provider': closed({'id': STR, 'name': STR}), 'status': STR,
    'dateCreated': DATE, 'integrationId': NULL, 'externalSlug': NULL,
})
SCHEMAS['Author'] = {'anyOf': [ref('User'), closed({'name': STR, 'email': STR})]}
SCHEMAS['Commit'] = closed({
    'id': STR, 'message': nullable(STR), 'dateCreated': DATE, 'repository': nullable(ref('Repository')),
    'author': nullable(ref('Author')),
})
SCHEMAS['Deploy'] = closed({
    'id': STR, 'environment': STR, 'name': nullable(STR), 'url': nullable(STR), 'dateStarted': nullable(DATE),
    'dateFinished': DATE,
})
SCHEMAS['ReleaseProject'] = closed({
    'id': INT, 'slug': STR, 'name': STR, 'newGroups': INT, 'platform': nullable(STR), 'platforms': array(STR),
    'hasHealthData': BOOL,
})
SCHEMAS['Release'] = closed({
    'id': STR, 'version': STR, 'shortVersion': STR, 'status': {'type': 'string', 'enum': ['open', 'archived']},
    'ref': nullable(STR), 'url': nullable(STR), 'dateCreated': DATE, 'dateReleased': nullable(DATE),
    'dateStarted': nullable(DATE), 'data': OBJECT, 'newGroups': INT, 'owner': nullable(ref('User')),
    'commitCount': INT, 'lastCommit': nullable(ref('Commit')), 'deployCount': INT,
    'lastDeploy': nullable(ref('Deploy')), 'authors': array(ref('Author')), 'projects': array(ref('ReleaseProject')),
    'firstEvent': nullable(DATE), 'lastEvent': nullable(DATE),
})
SCHEMAS['PreviousRelease'] = {'anyOf': [ref('Release'), {'type': 'object', 'maxProperties': 0}],
                              'description': 'The release, or {} when there is none.'}

# --- serializers/events.py -------------------------------------------------------------------------------
SCHEMAS['Event'] = closed({
    'id': STR, 'groupID': STR, 'eventID': STR, 'size': INT,
    'entries': array(closed({'type': STR, 'data': nullable(OBJECT)})),
    'dist': nullable(STR), 'message': STR, 'user': nullable(OBJECT), 'contexts': OBJECT, 'sdk': nullable(OBJECT),
    'context': OBJECT, 'packages': OBJECT, 'type': STR, 'metadata': OBJECT,
    'tags': array(closed({'key': STR, 'value': STR})), 'platform': nullable(STR), 'dateCreated': DATE,
    'dateReceived': nullable(DATE), 'errors': array(closed({'type': nullable(STR), 'message': STR, 'data': OBJECT})),
    'fingerprints': array(STR), 'title': STR,
})
SCHEMAS['EventDetail'] = extends('Event', {'nextEventID': nullable(STR), 'previousEventID': nullable(STR)}, {
    'userReport': NULL, 'release': nullable(closed({'version': STR})),
})

# --- serializers/tags.py ---------------------------------------------------------------------------------
SCHEMAS['TagKey'] = closed({'id': STR, 'key': STR, 'name': STR, 'uniqueValues': INT})
SCHEMAS['TagValue'] = closed({
    'id': nullable(STR), 'key': STR, 'name': nullable(STR), 'value': STR, 'count': INT, 'lastSeen': DATE,
    'firstSeen': DATE,
}, {
    'hash': STR, 'tagValue': STR, 'identifier': nullable(STR), 'username': nullable(STR), 'email': nullable(STR),
    'ipAddress': nullable(STR), 'dateCreated': DATE, 'avatarUrl': nullable(STR),
})
SCHEMAS['GroupTagKey'] = extends('TagKey', {'totalValues': INT}, {'topValues': array(ref('TagValue'))})

# --- serializers/issues.py (open: its owner is still adding fields) --------------------------------------
SCHEMAS['Activity'] = open_({'id': STR, 'user': nullable(OBJECT), 'type': STR, 'data': OBJECT, 'dateCreated': DATE})
SCHEMAS['Group'] = open_({
    'id': STR, 'shareId': nullable(STR), 'shortId': STR, 'count': STR, 'userCount': INT, 'title': STR,
    'culprit': nullable(STR), 'permalink': nullable(STR), 'firstSeen': DATE, 'lastSeen': DATE,
    'logger': nullable(STR), 'level': STR, 'status': STR, 'statusDetails': OBJECT, 'isPublic': BOOL,
    'project': open_({'id': STR, 'name': STR, 'slug': STR}), 'type': STR, 'metadata': OBJECT, 'numComments': INT,
    'assignedTo': nullable(OBJECT), 'isBookmarked': BOOL, 'isSubscribed': BOOL,
    'subscriptionDetails': nullable(OBJECT), 'hasSeen': BOOL, 'annotations': array(STR),
})
SCHEMAS['StreamGroup'] = extends('Group', {}, {'stats': {'type': 'object', 'additionalProperties': SERIES},
                                               'matchingEventId': STR}, strict=False)
SCHEMAS['GroupDetail'] = extends('Group', {
    'activity': array(ref('Activity')), 'seenBy': array(OBJECT), 'firstRelease': nullable(OBJECT),
    'lastRelease': nullable(OBJECT), 'pluginActions': array(ANY), 'pluginIssues': array(ANY),
    'pluginContexts': array(ANY), 'participants': array(OBJECT), 'userReportCount': INT,
    'tags': array(ref('GroupTagKey')), 'stats': {'type': 'object', 'additionalProperties': SERIES},
}, strict=False)
SCHEMAS['GroupHash'] = closed({'id': STR, 'latestEvent': nullable(ref('Event'))})
SCHEMAS['IssueActivity'] = open_({'activity': array(ref('Activity'))})
SCHEMAS['IssueBulkAnswer'] = open_({}, {
    'status': STR, 'statusDetails': OBJECT, 'assignedTo': nullable(OBJECT), 'hasSeen': BOOL, 'isBookmarked': BOOL,
    'isSubscribed': BOOL, 'subscriptionDetails': nullable(OBJECT), 'isPublic': BOOL, 'shareId': nullable(STR),
    'merge': {'anyOf': [BOOL, OBJECT], 'description': '{"parent", "children"} after a merge, else as sent.'},
})

# --- stats (resources/stats.py) and ingestion (resources/ingest.py) --------------------------------------
SCHEMAS['StatsSeries'] = {**SERIES, 'description': '[[epoch seconds, count], ...], oldest first.'}
SCHEMAS['ProjectStatsSeries'] = {'type': 'object', 'additionalProperties': ref('StatsSeries'),
                                 'description': '{project id: series} (`group=project`).'}
SCHEMAS['IngestAccepted'] = closed({}, {'id': {'type': 'string', 'pattern': '^[0-9a-f]{32}$'}})
SCHEMAS['OpenAPI'] = {'type': 'object', 'required': ['openapi', 'paths'],
                      'properties': {'openapi': STR, 'paths': OBJECT}}

# --- request bodies ------------------------------------------------------------------------------------
BOOLEAN_INPUT = {**BOOL, 'description': "Also 'true', 'false', '1', '0' (or 1, 0), as Sentry took them."}
ORG_FLAGS = ('openMembership', 'allowSharedIssues', 'enhancedPrivacy', 'dataScrubber', 'dataScrubberDefaults',
             'scrubIPAddresses', 'isEarlyAdopter', 'require2FA')
LINES = {'anyOf': [STR, array(STR)]}

SCHEMAS['Login'] = body({'username': STR, 'email': STR, 'password': STR})
SCHEMAS['UserUpdate'] = body({'name': text(200), 'username': text(200), 'email': text(200), 'password': STR,
                              'passwordNew': STR, 'passwordVerify': STR})
SCHEMAS['ApiTokenCreate'] = body({'scopes': {**array(SCOPE), 'minItems': 1}}, ('scopes',))
SCHEMAS['ApiTokenDelete'] = body({'token': text(min_length=1)}, ('token',))
SCHEMAS['OrganizationCreate'] = body({'name': text(64, 1), 'slug': text(50), 'defaultTeam': BOOLEAN_INPUT},
                                     ('name',))
SCHEMAS['OrganizationUpdate'] = body({
    'name': text(64, 1), 'slug': text(50, 1), **{flag: BOOLEAN_INPUT for flag in ORG_FLAGS},
    'sensitiveFields': LINES, 'safeFields': LINES,
    'accountRateLimit': {'type': 'integer', 'minimum': 0, 'maximum': 1000000},
    'projectRateLimit': {'type': 'integer', 'minimum': 50, 'maximum': 100}, 'defaultRole': ROLE,
})
SCHEMAS['MemberInvite'] = body({'email': {'type': 'string', 'format': 'email', 'maxLength': 75}, 'role': ROLE,
                                'teams': LINES}, ('email', 'role'))
SCHEMAS['MemberUpdate'] = body({'role': ROLE, 'teams': LINES, 'reinvite': BOOLEAN_INPUT})
SCHEMAS['ApiKeyCreate'] = body({'label': text(64, 1), 'scope_list': {**array(SCOPE), 'minItems': 1}})
SCHEMAS['ApiKeyUpdate'] = body({'label': text(64, 1), 'scope_list': {**array(SCOPE), 'minItems': 1},
                                'allowed_origins': nullable(STR)})
SCHEMAS['TeamCreate'] = body({'name': text(200, 1), 'slug': text(50)}, ('name',))
SCHEMAS['TeamUpdate'] = body({'name': text(200, 1), 'slug': text(50, 1)})
SCHEMAS['ProjectCreate'] = body({'name': text(200, 1), 'slug': text(50), 'platform': text(64)}, ('name',))
SCHEMAS['ProjectUpdate'] = body({
    'name': text(200, 1), 'slug': text(50, 1), 'team': STR, 'platform': nullable(text(64)),
    'isBookmarked': BOOLEAN_INPUT, 'isSubscribed': BOOLEAN_INPUT,
    'digestsMinDelay': {'type': 'integer', 'minimum': 60, 'maximum': 3600},
    'digestsMaxDelay': {'type': 'integer', 'minimum': 60, 'maximum': 3600},
    'subjectPrefix': nullable(text(200)), 'subjectTemplate': text(200, 1), 'options': OBJECT,
})
SCHEMAS['ProjectKeyCreate'] = body({'name': text(200), 'public': text(32), 'secret': text(32)})
SCHEMAS['ProjectKeyUpdate'] = body({
    'name': text(200), 'isActive': BOOLEAN_INPUT,
    'rateLimit': nullable(body({'count': {'type': 'integer', 'minimum': 0},
                                'window': {'type': 'integer', 'minimum': 0, 'maximum': 86400}}, ('count', 'window'))),
})
COMMIT_INPUT = body({
    'id': text(64, 1), 'repository': text(200), 'message': STR, 'author_name': text(128), 'author_email': text(75),
    'timestamp': DATE, 'patch_set': array(body({'path': text(255, 1), 'type': {'enum': ['A', 'D', 'M']}},
                                                ('path', 'type'))),
}, ('id',))
REF_INPUT = body({'repository': text(200, 1), 'commit': text(130, 1), 'previousCommit': text(64)},
                 ('repository', 'commit'))
RELEASE_FIELDS = {
    'ref': text(200), 'url': {'type': 'string', 'format': 'uri', 'maxLength': 2000}, 'dateReleased': DATE,
    'dateStarted': DATE, 'status': {'enum': ['open', 'archived']}, 'commits': array(COMMIT_INPUT),
    'refs': array(REF_INPUT),
}
SCHEMAS['ReleaseCreate'] = body({'version': text(200, 1), 'projects': array(STR), **RELEASE_FIELDS},
                                ('version', 'projects'))
SCHEMAS['ProjectReleaseCreate'] = body({'version': text(200, 1), **RELEASE_FIELDS}, ('version',))
SCHEMAS['ReleaseUpdate'] = body(RELEASE_FIELDS)
SCHEMAS['DeployCreate'] = body({'environment': text(64, 1), 'name': text(64),
                                'url': {'type': 'string', 'format': 'uri', 'maxLength': 2000},
                                'dateStarted': DATE, 'dateFinished': DATE}, ('environment',))
SCHEMAS['RepositoryCreate'] = body({'name': text(200, 1), 'provider': {'enum': list(PROVIDERS)}, 'url': text(2000)},
                                   ('name',))
SCHEMAS['Envelope'] = {'type': 'string', 'description': 'A Sentry envelope: a JSON header line, then items, '
                                                         'each a JSON item header line and its payload.'}
IGNORE_FIELDS = ('ignoreDuration', 'ignoreCount', 'ignoreWindow', 'ignoreUserCount', 'ignoreUserWindow')


def ignore_condition(name: str) -> dict:
    return {'type': 'integer', 'minimum': 0, 'maximum': ignore_maximum(name)}


SCHEMAS['IssueUpdate'] = body({
    'status': {'enum': ['resolved', 'unresolved', 'ignored', 'resolvedInNextRelease', 'muted']},
    'statusDetails': body({'inNextRelease': BOOLEAN_INPUT, 'inRelease': text(200),
                           **{name: ignore_condition(name) for name in IGNORE_FIELDS}}),
    **{name: ignore_condition(name) for name in (*IGNORE_FIELDS, 'snoozeDuration')},
    'assignedTo': {'anyOf': [STR, INT, NULL], 'description': 'A user id, username or email; null unassigns.'},
    **{name: BOOLEAN_INPUT for name in ('hasSeen', 'isBookmarked', 'isSubscribed', 'isPublic', 'merge')},
})
SCHEMAS['NoteCreate'] = body({'text': text(min_length=1), 'mentions': array({'anyOf': [STR, INT]})}, ('text',))
SCHEMAS['NoteUpdate'] = body({'text': text(min_length=1)}, ('text',))
SCHEMAS['ErrorText'] = {'anyOf': [ref('Error'), STR],
                        'description': 'As Sentry: some 400s are a JSON string holding {"detail": ...}.'}
SCHEMAS['EventPayload'] = {
    'type': 'object',
    'description': "A Sentry event as SDKs send it (the store endpoint's body); every field is optional.",
    'properties': {'event_id': STR, 'message': ANY, 'level': STR, 'platform': STR, 'timestamp': ANY,
                   'tags': ANY, 'extra': OBJECT, 'exception': ANY, 'fingerprint': array(STR)},
}
