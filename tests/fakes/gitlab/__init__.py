"""A stateful fake of the GitLab REST API v4, served over real HTTP.

Only the standard library is used, so unmodified python-gitlab talks to it
exactly as it would to a real server::

    with FakeGitLab() as fake:
        gl = gitlab.Gitlab(fake.url, private_token=fake.token)
        project = gl.projects.get(fake.project_id)

All state lives in plain Python containers that tests may read and modify
directly (hold ``fake.lock`` if requests may be in flight).  Keys starting with
``_`` (``"_mentions"``, ``"_references"``, ``"_user_id"`` ...) are private
bookkeeping and are never sent over the wire.

Text handling mimics GitLab:

* quick actions use the regex of ``Gitlab::QuickActions::Extractor``
  (fenced code blocks only; GitLab also skips inline-code, HTML and ``>>>``
  blocks, which this fake deliberately does NOT, so it errs on the side of
  executing commands).  ``\\r`` is removed and trailing whitespace stripped
  from any description or note body, as GitLab does.  Every recognised command
  line is stripped and logged in ``executed_quick_actions`` even when it was
  inert (GitLab strips them all; /close, /title ... act only on existing issues);
* mentions (``@user`` of known users, plus ``@all``) and issue references are
  scanned in titles, descriptions and notes, outside code fences/spans.

One module per resource, each citing the GitLab source it follows: ``wire`` (the HTTP
plumbing: requests, bodies, faults, the socket server), ``base`` (the shared state, ids,
timestamps, users, pages), ``users`` (users, roles, tokens), ``labels`` (labels and label
events), ``search`` (issue search), ``project`` (settings, variables, uploads, boards,
triggers, hooks, schedules), ``hooks`` (webhook deliveries), ``quick_actions``, ``issues``,
``todos``, ``notes``, ``pipelines`` (pipelines, triggers, commits, schedule variables) and
``server`` (``FakeGitLab``: the routes and each request's way to its handler).
"""

from tests.fakes.gitlab.quick_actions import extract_quick_actions
from tests.fakes.gitlab.server import FakeGitLab
from tests.fakes.gitlab.text import find_mentions, find_references
from tests.fakes.gitlab.wire import LoggedRequest

__all__ = [
    "FakeGitLab",
    "LoggedRequest",
    "extract_quick_actions",
    "find_mentions",
    "find_references",
]
