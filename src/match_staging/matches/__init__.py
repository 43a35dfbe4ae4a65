"""Read match documents from files, folders and CI variables; validate each match against
the published JSON Schema; clean its texts. Pure apart from reading the named inputs.

Every match is validated on its own, so one bad match never hides the good ones beside it;
a document of more matches than a document may hold is refused as a whole, before any is
validated. Lengths are checked before any pattern runs, and nesting depth before anything
walks a value (issue 10, "Hostile sizes").

The rooms, by job: `inputs` (where documents come from), `parsing` (a document into
matches), `schema` (the published schema, and the fast path for requirements), `messages`
(what a schema error says), `text` (cleaning), `scrubbing` (secrets out) and `batch` (one
run's read, all of it together).
"""

from match_staging.matches.batch import Batch, read_batch
from match_staging.matches.inputs import (
    B64_INPUT,
    B64_VARIABLE,
    MAX_DOCUMENT_BYTES,
    MAX_PAYLOAD_BYTES,
    Document,
    documents_from,
    where_looked,
)
from match_staging.matches.parsing import MAX_CYCLE_ID, parse
from match_staging.matches.schema import MAX_ERRORS_PER_MATCH
from match_staging.matches.scrubbing import scrub, scrubbed_notice
from match_staging.matches.text import clean_text

__all__ = [
    "B64_INPUT",
    "B64_VARIABLE",
    "MAX_CYCLE_ID",
    "MAX_DOCUMENT_BYTES",
    "MAX_ERRORS_PER_MATCH",
    "MAX_PAYLOAD_BYTES",
    "Batch",
    "Document",
    "clean_text",
    "documents_from",
    "parse",
    "read_batch",
    "scrub",
    "scrubbed_notice",
    "where_looked",
]
