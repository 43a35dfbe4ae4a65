"""One run's batch: every input read and parsed, secrets scrubbed; problems collected,
never raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from match_staging.errors import InputError
from match_staging.matches.inputs import documents_from
from match_staging.matches.parsing import parse
from match_staging.matches.scrubbing import scrub
from match_staging.model import Match
from match_staging.redaction import Scrubber, Secret, secrets_of


@dataclass
class Batch:
    """Everything one run read: the usable matches and the reasons for the rest."""

    matches: list[Match] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # "MATCHES_JSON: match 1 ('…'): field 'draft' held the value of GITLAB_TOKEN", for each
    # text a secret was removed from (the secret's name, never its value)
    scrubbed: list[str] = field(default_factory=list)


def read_batch(
    paths: Iterable[str],
    env: Mapping[str, str] | None = None,
    inbox: str = "matches-inbox",
    secrets: Iterable[Secret | str] | None = None,
) -> Batch:
    """Read and parse every input of a run; problems are collected, never raised.
    `secrets`: the values no match may carry on (default: the secret variables in `env`).
    """
    env = os.environ if env is None else env
    scrubber = Scrubber(secrets_of(None, env) if secrets is None else secrets)
    batch = Batch()
    for doc in documents_from(paths, env, inbox):
        if isinstance(doc, InputError):
            batch.errors.append(doc)
            continue
        batch.sources.append(doc.source)
        found, errors = parse(doc)
        for match in found:
            clean, fields = scrub(match, scrubber)
            batch.matches.append(clean)
            batch.scrubbed += [
                f"{clean.source}: {clean.label}: field '{name}' held the "
                f"value of {' and '.join(secrets)}"
                for name, secrets in fields
            ]
        batch.errors.extend(errors)
    return batch
