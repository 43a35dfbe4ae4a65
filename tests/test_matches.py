from __future__ import annotations

import base64
import gc
import json
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from match_staging import matches
from match_staging.errors import InputError
from match_staging.matches import Document, clean_text, documents_from, parse, read_batch
from match_staging.matches.inputs import where_looked
from match_staging.resources import schema_path
from tests.conftest import match, write


def parse_one(data: object) -> tuple[list[str], list[str]]:
    found, errors = parse(Document("in.json", json.dumps(data).encode()))
    return [m.title for m in found], [str(e) for e in errors]


def test_three_document_forms() -> None:
    assert parse_one(match())[0] == ["Senior DevOps Engineer"]
    assert parse_one([match(), match(title="B")])[0] == ["Senior DevOps Engineer", "B"]
    found, _ = parse(
        Document("c.json", json.dumps({"cycle_id": "c-1", "matches": [match()]}).encode())
    )
    assert found[0].cycle_id == "c-1"


def test_source_url_is_accepted_for_url() -> None:
    found, errors = parse(
        Document("x", json.dumps(match(url=None, source_url="https://a.example/p")).encode())
    )
    assert not errors and found[0].url == "https://a.example/p"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            match(score=150),
            "in.json: match 2 ('Senior DevOps Engineer'): field 'score': "
            "must be between 0 and 100, got 150",
        ),
        (match(score="95"), "field 'score': must be a number, got text \"95\""),
        (match(provider=None), "field 'provider': is missing (a required field)"),
        (match(url=None), "field 'url': is missing"),
        (match(url="javascript:alert(1)"), "field 'url': is not a valid http(s) URL"),
        (match(title="x" * 3000), "field 'title': is too long (3,000 characters, at most 2,000)"),
        (
            match(requirements=[{"requirement": "K8s", "score": "high"}]),
            "field 'requirements[0].score': must be a number",
        ),
        (
            match(requirements=[{"requirement": "K8s", "scroe": 1}]),
            "field 'requirements[0]': unknown field",
        ),
        (match(attachments="cv.pdf"), "field 'attachments': must be a list"),
        (match(title="   "), "field 'title': must not be empty"),
        ("just text", "in.json: match 2: must be an object, got text"),
    ],
)
def test_invalid_match_errors_name_file_match_and_field(item: object, expected: str) -> None:
    titles, errors = parse_one([match(title="Good one"), item])
    assert titles == ["Good one"]  # the good match beside it survives
    assert any(expected in e for e in errors), errors


def test_huge_value_is_not_repeated_in_the_message() -> None:
    _, errors = parse_one([match(draft="x" * 200_000)])
    assert len(errors[0]) < 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        (b'{"score": 90,', "not valid JSON: Expecting property name"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
        (b'{"cycle_id": "x", "matches": {"a": 1}}', "field 'matches': must be a list"),
    ],
)
def test_broken_documents_name_the_file(data: bytes, expected: str) -> None:
    found, errors = parse(Document("inbox/bad.json", data))
    assert not found
    assert str(errors[0]).startswith("inbox/bad.json: ")
    assert expected in str(errors[0])


def test_utf8_bom_is_accepted() -> None:
    found, errors = parse(Document("x", b"\xef\xbb\xbf" + json.dumps(match()).encode()))
    assert found and not errors


def test_texts_are_cleaned_of_invisible_and_control_characters() -> None:
    found, _ = parse(
        Document(
            "x",
            json.dumps(
                match(title="Cloud\u202eArchitect\u200b\nLead\x07", notes="a\r\nb\u2066c")
            ).encode(),
        )
    )
    assert found[0].title == "CloudArchitect Lead"
    assert found[0].notes == "a\nbc"
    assert clean_text("  x \t y  ", single_line=True) == "x y"


def test_apply_string_becomes_email_or_url() -> None:
    found, _ = parse(
        Document(
            "x",
            json.dumps(
                [
                    match(apply="jobs@acme.example"),
                    match(apply="https://acme.example/apply", url="https://b.example/"),
                ]
            ).encode(),
        )
    )
    assert found[0].apply == {"email": "jobs@acme.example"}
    assert found[1].apply == {"url": "https://acme.example/apply"}


def test_inputs_paths_first_then_variables_then_inbox(repo: Path) -> None:
    explicit = write(repo / "other" / "one.json", match(title="Explicit"))
    env = {"MATCHES_JSON": json.dumps(match(title="Inline"))}
    assert [m.title for m in read_batch([str(explicit)], env).matches] == ["Explicit"]
    assert [m.title for m in read_batch([], env).matches] == ["Inline"]
    assert len(read_batch([], {}).matches) == 5  # the example inbox
    assert read_batch([], env).sources == ["MATCHES_JSON"]


def test_matches_file_and_missing_paths(repo: Path) -> None:
    file = write(repo / "m.json", [match(title="From file")])
    batch = read_batch([], {"MATCHES_FILE": str(file)})
    assert [m.title for m in batch.matches] == ["From file"]
    batch = read_batch(["nope.json", str(file)], {})
    assert [m.title for m in batch.matches] == ["From file"]
    assert str(batch.errors[0]) == "nope.json: no such file or folder"


def test_trigger_payload_carrying_a_document(repo: Path) -> None:
    body = {"ref": "main", "variables": {"MATCHES_JSON": json.dumps([match(title="Via var")])}}
    payload = write(repo / "payload.json", body)
    assert [m.title for m in read_batch([], {"TRIGGER_PAYLOAD": str(payload)}).matches] == [
        "Via var"
    ]
    write(payload, {"ref": "main", "cycle_id": "c9", "matches": [match(title="Inline body")]})
    found = read_batch([], {"TRIGGER_PAYLOAD": str(payload)}).matches
    assert [(m.title, m.cycle_id) for m in found] == [("Inline body", "c9")]


def test_a_document_in_the_trigger_request_body_is_read_from_the_payload(repo: Path) -> None:
    """scripts/submit-matches puts the document in the body as `matches_b64` (issue 19): it
    is read from TRIGGER_PAYLOAD, also beside the input job=stage, also when large."""
    document = json.dumps(
        {
            "cycle_id": "c-2",
            "matches": [match(title=f"Role {i}", url=f"https://j.example/{i}") for i in range(300)],
        }
    )
    body = {
        "ref": "main",
        "id": "1",
        "inputs": {"job": "stage"},
        "matches_b64": base64.b64encode(document.encode()).decode(),
    }
    payload = write(repo / "payload.json", body)
    found = read_batch([], {"TRIGGER_PAYLOAD": str(payload)}).matches
    assert len(found) == 300 and found[0].cycle_id == "c-2"


def test_a_trigger_payload_over_its_bound_is_an_error_not_the_inbox(repo: Path) -> None:
    """Before, a payload over 20 MB was skipped and `stage` staged matches-inbox/ instead
    of the document it was sent."""
    payload = repo / "payload.json"
    payload.write_bytes(b'{"matches_b64": "' + b"A" * (20 * 1024 * 1024) + b'"}')
    batch = read_batch([], {"TRIGGER_PAYLOAD": str(payload)})
    assert batch.matches == []
    (error,) = batch.errors
    assert "more than the 20,971,520 a trigger request" in str(error)


def test_webhook_payload_is_not_a_match_document(repo: Path) -> None:
    hook = Path(__file__).parent / "fixtures/gitlab/issue_hook_example.json"
    payload = repo / "hook.json"
    payload.write_bytes(hook.read_bytes())
    batch = read_batch([], {"TRIGGER_PAYLOAD": str(payload)})
    assert len(batch.matches) == 5  # falls back to the inbox


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://a.example:99999/x", "field 'url': is not a valid http(s) URL: Port out of range"),
        ("https://[x/2", "field 'url': is not a valid http(s) URL"),
    ],
)
def test_urls_python_cannot_split_reject_only_their_match(url: str, message: str) -> None:
    titles, errors = parse_one([match(title="Good one"), match(url=url)])
    assert titles == ["Good one"]
    assert any(message in e for e in errors), errors


def test_every_invisible_format_character_is_removed() -> None:
    hidden = "\u00ad\u034f\u180e\u3164\U000e0041\U000e0042\u2061\u200b\u202e"
    found, _ = parse(
        Document(
            "x", json.dumps(match(title=f"Cloud{hidden}Architect", notes="ok 👨\u200d💻")).encode()
        )
    )
    assert found[0].title == "CloudArchitect"
    assert found[0].notes == "ok 👨\u200d💻"  # the joiner inside an emoji stays


@pytest.mark.parametrize("address", ['a"b@x.example', "a(b@x.example", "a:b@x.example"])
def test_apply_address_must_be_one_a_mailer_accepts(address: str) -> None:
    _, errors = parse_one([match(apply={"email": address})])
    assert any("field 'apply': is not an address a mailer accepts" in e for e in errors), errors


def test_trigger_api_document_is_read_once(repo: Path) -> None:
    document = json.dumps([match(title="Once")])
    payload = write(repo / "payload.json", {"ref": "main", "variables": {"MATCHES_JSON": document}})
    batch = read_batch([], {"MATCHES_JSON": document, "TRIGGER_PAYLOAD": str(payload)})
    assert [m.title for m in batch.matches] == ["Once"]


@pytest.mark.parametrize(
    "address",
    [
        '"x" <a@b.example>',
        "a(comment)@b.example",
        "a@b.example(comment)",
        "a@[1.2.3.4]",
        "a@[IPv6:2001:db8::1]",
        "a@192.0.2.1",
        '"a b"@x.example',
    ],
)
def test_apply_address_comments_and_ip_literals_are_refused(address: str) -> None:
    for apply in ({"email": address}, address):
        _, errors = parse_one([match(apply=apply)])
        assert any("field 'apply': " in e for e in errors), (apply, errors)


def test_plain_addresses_are_still_accepted() -> None:
    for address in ("jobs@acme.example", "first.last+tag@sub.acme.example", "x@müller.example"):
        titles, errors = parse_one([match(apply={"email": address})])
        assert titles and not errors, (address, errors)


def test_a_document_of_too_many_matches_is_refused_whole() -> None:
    """Not validated one by one: 1,001 matches are one error naming the limit."""
    many = [match(url=f"https://jobs.example.com/p/{i}") for i in range(1001)]
    for data, field in ((many, ""), ({"cycle_id": "c", "matches": many}, "field 'matches': ")):
        titles, errors = parse_one(data)
        assert titles == [] and errors == [
            f"in.json: {field}has 1,001 matches, more than the 1,000 a document may hold: "
            "split it into several documents; none of its matches was read"
        ]
    assert len(parse_one(many[:1000])[0]) == 1000


@pytest.mark.parametrize("field", ["url", "source_url"])
def test_long_urls_are_refused_by_length_before_any_pattern(field: str) -> None:
    """The pattern never sees them: 100,000 characters are answered at once."""
    started = time.process_time()
    item = match(url=None)
    item[field] = "https://" + "a/" * 50_000 + " "
    _, errors = parse_one(item)
    assert time.process_time() - started < 1.0
    assert errors == [
        f"in.json: match 1 ('Senior DevOps Engineer'): field '{field}': is too "
        "long (100,009 characters, at most 2,048)"
    ]


def test_schema_patterns_are_linear() -> None:
    """The published schema's patterns, as any validator runs them, on texts just within
    their lengths that fail at the very end (the old patterns backtracked)."""
    schema = json.loads(Path(schema_path()).read_text(encoding="utf-8"))
    url = re.compile(schema["$defs"]["url"]["pattern"])
    email = re.compile(
        schema["$defs"]["match"]["properties"]["apply"]["oneOf"][1]["properties"]["email"][
            "pattern"
        ]
    )
    started = time.process_time()
    for _ in range(20):
        assert not url.search("https://" + "a" * 100_000 + " ")
        assert not email.search("a@" + "b." * 50_000 + " ")
    assert time.process_time() - started < 1.0
    assert url.search("https://a.example/p?q=1#x") and email.search("a@b.example")
    assert not email.search("a@b.") and not email.search("a@.b") and email.search("a@.b.c")


def test_nesting_is_limited_on_every_document() -> None:
    ok = match(extra=json.loads("[" * 60 + "]" * 60))
    assert parse_one(ok)[0] == ["Senior DevOps Engineer"]
    for depth in (65, 500, 10_000):
        text = '{"score": 1, "x": ' + "[" * depth + "]" * depth + "}"
        found, errors = parse(Document("in.json", text.encode()))
        assert not found and [str(e) for e in errors] == [
            "in.json: nested too deeply: more than 64 levels of lists and objects "
            "(a match document has 5)"
        ]


def test_secret_values_are_scrubbed_from_every_text_and_reported(repo: Path) -> None:
    """Issue 15: what the runner expanded into MATCHES_JSON never goes further."""
    token = "glpat-SCRUB-canary-000"
    doc = {
        "cycle_id": f"c {token}",
        "matches": [
            match(
                title=f"T {token}",
                provider=f"P {quote(token + '/', safe='')}",
                draft=f"{token[:20]}…",
                requirements=[{"requirement": f"r {token}", "comment": f"c {token}"}],
                apply={"email": "a@b.example", "subject": token},
                notes="short secret 12345 stays",
            )
        ],
    }
    batch = read_batch(
        [], {"MATCHES_JSON": json.dumps(doc), "GITLAB_TOKEN": token, "CI_JOB_TOKEN": "12345"}
    )
    assert not batch.errors
    found = batch.matches[0]
    assert token not in repr(found) and token[:20] not in repr(found)
    assert found.title == "T [secret removed]" and found.apply["subject"] == "[secret removed]"
    assert found.notes == "short secret 12345 stays"  # shorter than 6: left alone
    fields = [w.rsplit(": field ", 1)[1] for w in batch.scrubbed]
    assert fields == [
        f"'{name}' held the value of GITLAB_TOKEN"
        for name in (
            "title",
            "provider",
            "requirements[0].requirement",
            "requirements[0].comment",
            "draft",
            "apply.subject",
            "cycle_id",
        )
    ]
    assert all(w.startswith("MATCHES_JSON: match 1 ('T [secret removed]')") for w in batch.scrubbed)


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["lists", "objects", "numbers", "unknown-field", "nan-text"])
def test_5_mb_of_any_shape_is_parsed_within_the_bound(shape: str) -> None:
    """Millions of tiny values: what counts them (depth, matches, NaN) must stay cheap."""
    base = json.dumps(match())[:-1]
    text = {
        "lists": "[" + ",".join(["[]"] * 1_700_000) + "]",
        "objects": "[" + ",".join(["{}"] * 1_700_000) + "]",
        "numbers": '{"matches": [' + ",".join(["1"] * 2_500_000) + "]}",
        "unknown-field": base + ', "x": ' + json.dumps([[[1]]] * 600_000) + "}",
        "nan-text": base + ', "x": ' + json.dumps([[[[["NaN"]]]]] * 200_000) + "}",
    }[shape]
    assert len(text) <= 5 * 1024 * 1024
    started = time.process_time()
    found, errors = parse(Document("in.json", text.encode()))
    assert time.process_time() - started < 5.0
    assert len(found) + len(errors) == 1


# --- reading documents: base64, the trigger payload, files (issue 26) ----------------------

DOC = json.dumps([match(title="Über base64 — with a long enough body to wrap at 76")])
DOC_BYTES = DOC.encode()


def docs(env: dict[str, str], inbox: str = "no-inbox") -> list[Document | InputError]:
    return documents_from([], env, inbox)


def wrapped(data: bytes, width: int = 76, newline: str = "\n") -> str:
    """As `base64` without -w0 prints it: lines of 76 characters."""
    text = base64.b64encode(data).decode()
    return newline.join(text[i : i + width] for i in range(0, len(text), width)) + newline


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(base64.b64encode(DOC_BYTES).decode(), id="base64 -w0"),
        pytest.param(wrapped(DOC_BYTES), id="base64 (76 columns)"),
        pytest.param(wrapped(DOC_BYTES, newline="\r\n"), id="CRLF lines"),
        pytest.param(" " + base64.b64encode(DOC_BYTES).decode() + " \n", id="spaces"),
        pytest.param(base64.b64encode(DOC_BYTES + b" ").decode().rstrip("="), id="no = padding"),
        pytest.param(base64.b64encode(DOC_BYTES + b"  ").decode().rstrip("="), id="no == padding"),
        pytest.param(wrapped(DOC_BYTES + b" ").replace("=", ""), id="wrapped, no padding"),
    ],
)
def test_every_form_of_base64_the_docstring_promises(encoded: str) -> None:
    assert len(DOC_BYTES) > 57  # more than one line of `base64` output
    (doc,) = docs({"MATCHES_JSON_B64": encoded})
    assert isinstance(doc, Document) and doc.source == "MATCHES_JSON_B64"
    assert doc.data.rstrip(b" ") == DOC_BYTES
    found, errors = parse(doc)
    assert errors == [] and found[0].title.startswith("Über base64")


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"\xfb\xff\xfe" * 30).decode(),  # the URL-safe alphabet
        base64.b64encode(b"{}").decode() + "=",  # one pad too many
    ],
)
def test_what_is_not_base64_is_one_clear_error(encoded: str) -> None:
    (error,) = docs({"MATCHES_JSON_B64": encoded})
    assert str(error) == (
        "MATCHES_JSON_B64: not base64: send the document's UTF-8 JSON encoded with base64 "
        "(base64 -w0 matches.json), as scripts/submit-matches does"
    )


def test_base64_longer_than_a_document_may_be_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(matches.inputs, "MAX_DOCUMENT_BYTES", 30)  # 30 bytes: 44 characters
    (fits,) = docs({"MATCHES_JSON_B64": base64.b64encode(b"x" * 30).decode() + "\n"})
    assert isinstance(fits, Document) and fits.data == b"x" * 30
    (error,) = docs({"MATCHES_JSON_B64": "A" * 45})
    assert str(error) == (
        "MATCHES_JSON_B64: 45 characters of base64, more than a 30-byte match document may have"
    )
    (padded,) = docs({"MATCHES_JSON_B64": "QUFB" * 11})  # 44 characters: still read
    assert isinstance(padded, Document) and padded.data == b"AAA" * 11


def test_which_input_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    b64 = base64.b64encode(json.dumps([match(title="B64")]).encode()).decode()
    plain = json.dumps([match(title="Plain")])
    payload = write(tmp_path / "p.json", {"variables": {"MATCHES_JSON": json.dumps([match()])}})
    inbox = write(tmp_path / "inbox" / "a.json", [match(title="Inbox")]).parent
    file = write(tmp_path / "f.json", [match(title="File")])

    def sources(env: dict[str, str]) -> list[str]:
        return [d.source for d in documents_from([], env, str(inbox)) if isinstance(d, Document)]

    trigger = f"TRIGGER_PAYLOAD ({payload})"
    everything = {"MATCHES_JSON_B64": b64, "TRIGGER_PAYLOAD": str(payload), "MATCHES_JSON": plain}
    assert sources(everything) == ["MATCHES_JSON_B64"]
    assert sources({**everything, "MATCHES_JSON_B64": " \n"}) == [trigger]  # blank: not sent
    assert sources({"TRIGGER_PAYLOAD": str(payload), "MATCHES_JSON": plain}) == [trigger]
    assert sources({"TRIGGER_PAYLOAD": str(tmp_path / "gone"), "MATCHES_JSON": plain}) == [
        "MATCHES_JSON"
    ]
    assert sources({"MATCHES_JSON": plain, "MATCHES_FILE": "f.json"}) == [
        "MATCHES_JSON",
        "f.json",
    ]
    assert sources({}) == [str(inbox / "a.json")]
    assert sources({"MATCHES_JSON": ""}) == [str(inbox / "a.json")]
    explicit = documents_from([str(file)], everything, str(inbox))
    assert [d.source for d in explicit if isinstance(d, Document)] == [str(file)]


def test_a_variable_sent_as_matches_json_warns_in_ci_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = json.dumps([match()])
    docs({"MATCHES_JSON": plain})
    assert capsys.readouterr().err == ""
    docs({"MATCHES_JSON": plain, "GITLAB_CI": "true"})
    assert capsys.readouterr().err.startswith(
        "warning: MATCHES_JSON came from a pipeline variable, which the runner expands"
    )


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({"variables": {"MATCHES_JSON_B64": "B64"}}, "B64"),
        ({"inputs": {"matches_b64": "B64"}}, "B64"),
        ({"variables": {"MATCHES_JSON": "JSON"}}, "JSON"),
        ({"inputs": {"matches_json": "JSON"}}, "JSON"),
        # base64 before JSON, variables before inputs, both before a `matches` body
        ({"variables": {"MATCHES_JSON": "JSON", "MATCHES_JSON_B64": "B64"}}, "B64"),
        ({"variables": {"MATCHES_JSON": "JSON"}, "inputs": {"matches_b64": "B64"}}, "JSON"),
        ({"variables": {"MATCHES_JSON_B64": " "}, "inputs": {"matches_json": "JSON"}}, "JSON"),
        ({"variables": {"MATCHES_JSON": "JSON"}, "matches": "BODY"}, "JSON"),
        ({"variables": {"MATCHES_JSON": 7}, "matches": "BODY"}, "BODY"),
        ({"variables": "x", "inputs": ["y"], "matches": "BODY"}, "BODY"),
    ],
)
def test_a_trigger_payload_document_every_place_it_can_be(
    tmp_path: Path, body: dict[str, Any], title: str
) -> None:
    def fill(value: Any) -> Any:
        if value == "B64":
            return base64.b64encode(json.dumps([match(title="B64")]).encode()).decode()
        if value == "JSON":
            return json.dumps([match(title="JSON")])
        if value == "BODY":
            return [match(title="BODY")]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    payload = write(tmp_path / "payload.json", {"ref": "main", **fill(body), "cycle_id": "c7"})
    (doc,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert isinstance(doc, Document) and doc.source == f"TRIGGER_PAYLOAD ({payload})"
    found, errors = parse(doc)
    assert errors == [] and [m.title for m in found] == [title]
    if title == "BODY":  # the body's own cycle id, and nothing else of the call
        assert json.loads(doc.data) == {"cycle_id": "c7", "matches": [match(title="BODY")]}


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        b'["a list"]',
        b'{"object_kind": "issue", "matches": []}',  # a webhook payload
        b'{"ref": "main"}',  # a trigger call without a document
    ],
)
def test_a_trigger_payload_without_a_document_leaves_the_inbox(
    tmp_path: Path, content: bytes
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_bytes(content)
    inbox = write(tmp_path / "inbox" / "a.json", [match()]).parent
    found = documents_from([], {"TRIGGER_PAYLOAD": str(payload)}, str(inbox))
    assert [d.source for d in found if isinstance(d, Document)] == [str(inbox / "a.json")]


def test_a_trigger_payload_too_big_or_too_deep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text("[" * 200 + "]" * 200)
    (error,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert str(error).startswith(f"TRIGGER_PAYLOAD ({payload}): not a trigger payload: nested")
    monkeypatch.setattr(matches.inputs, "MAX_PAYLOAD_BYTES", 40)
    body = json.dumps({"matches": []})  # 16 bytes: read
    payload.write_text(body + " " * (40 - len(body)))  # 40 bytes: the bound, still read
    (doc,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert isinstance(doc, Document) and json.loads(doc.data) == {"matches": []}
    payload.write_text(body + " " * (41 - len(body)))  # one byte more: refused, not read
    (error,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert isinstance(error, InputError) and "41 bytes, more than the 40" in str(error)


class _Finalized:
    """Garbage with a finalizer that needs a few frames of stack, as sockets and files have."""

    def __init__(self) -> None:
        self.cycle = [self]  # only the cyclic GC frees it

    def __del__(self) -> None:
        def down(n: int) -> int:
            return down(n - 1) if n else 0

        down(30)


def test_deep_json_leaves_no_finalizer_without_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collection the parser's allocations start a thousand calls deep would run a
    finalizer there, out of stack: Python prints that as "Exception ignored in ..." with a
    traceback, which a user of `validate` would see on standard error (the suite saw it once
    in about 60 runs). Each threshold here starts the collection at another depth of the descent.
    Only the young generation is emptied first: that is where the count starts, and a full
    collection of the suite's heap costs some 80 ms, a hundred of them 8 s. It can fail on
    Python 3.11 only (.ci/run's): from 3.12 on a collection runs at the eval loop's check,
    not on an allocation (What's New in 3.12), so never inside the parser; 3.13 passes
    without the pause too (checked)."""
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    before = gc.get_threshold()
    try:
        for threshold in range(300, 1000, 7):
            gc.collect(0)
            gc.set_threshold(threshold)
            _Finalized()
            (doc,) = docs({"MATCHES_JSON": "[" * 10_000 + "]" * 10_000})
            assert isinstance(doc, Document)
            found, (error,) = parse(doc)
            assert found == [] and "nested too deeply" in str(error)
    finally:
        gc.set_threshold(*before)
    assert unraisable == []
    assert gc.isenabled()


def test_files_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    write(folder / "b.json", [match()])
    write(folder / "sub" / "a.json", [match()])
    write(folder / "match.schema.json", {})
    (folder / "notes.txt").write_text("x")
    (folder / "dir.json").mkdir()
    found = documents_from([str(folder)], {}, "unused")
    assert [d.source for d in found] == [str(folder / "b.json"), str(folder / "sub" / "a.json")]
    assert documents_from([], {}, str(tmp_path / "missing")) == []  # no inbox: nothing
    (missing,) = documents_from([str(tmp_path / "missing")], {}, "unused")
    assert str(missing) == f"{tmp_path / 'missing'}: no such file or folder"
    monkeypatch.setattr(matches.inputs, "MAX_DOCUMENT_BYTES", 10)
    (folder / "ten.json").write_bytes(b"[" + b" " * 8 + b"]")
    (folder / "big.json").write_bytes(b"[" + b" " * 9 + b"]")
    ten, big = documents_from([str(folder / "ten.json"), str(folder / "big.json")], {}, "unused")
    assert isinstance(ten, Document) and ten.data == b"[        ]"
    assert str(big) == (
        f"{folder / 'big.json'}: file is 11 bytes, more than the 10 a match document may have"
    )


def test_matches_file_in_ci_is_a_file_of_the_checkout_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    inside = write(checkout / "m.json", [match()])
    outside = write(tmp_path / "secret.json", [match()])
    monkeypatch.chdir(checkout)
    ci = {"GITLAB_CI": "true"}
    (doc,) = docs({**ci, "MATCHES_FILE": "m.json"})
    assert isinstance(doc, Document) and doc.source == "m.json"
    for name in (str(outside), "../secret.json"):
        (error,) = docs({**ci, "MATCHES_FILE": name})
        assert str(error) == (
            "MATCHES_FILE: in CI only a file of the repository is read "
            "(a relative path inside the checkout)"
        )
    (doc,) = docs({"MATCHES_FILE": str(outside)})  # on a laptop: any file
    assert isinstance(doc, Document) and doc.source == str(outside)
    assert inside.is_file()


def test_a_trigger_request_bodys_base64_and_its_errors_name_the_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scripts/submit-matches sends `matches_b64` in the body; what is read from it, and
    every error about it, names the payload file (issue 26)."""
    payload = tmp_path / "payload.json"
    source = f"TRIGGER_PAYLOAD ({payload})"
    encoded = base64.b64encode(json.dumps([match(title="B64")]).encode()).decode()
    write(payload, {"ref": "main", "matches_b64": encoded})
    (doc,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert isinstance(doc, Document) and doc.source == source
    assert [m.title for m in parse(doc)[0]] == ["B64"]
    write(payload, {"ref": "main", "matches_b64": "not base64!"})
    (error,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert str(error).startswith(f"{source}: not base64: send the document's UTF-8 JSON")
    monkeypatch.setattr(matches.inputs, "MAX_PAYLOAD_BYTES", 40)
    payload.write_text(" " * 41)
    (error,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert str(error).startswith(f"{source}: 41 bytes, more than the 40 a trigger request")


def test_a_lone_surrogate_in_a_trigger_variable_is_an_error_not_a_crash(
    tmp_path: Path,
) -> None:
    r"""JSON may spell a lone surrogate ("\ud800") that UTF-8 cannot hold: the variable's
    text is read with it replaced, and parsing names the payload."""
    payload = tmp_path / "payload.json"
    payload.write_text('{"variables": {"MATCHES_JSON": "[\\"\\ud800\\"]"}}', encoding="utf-8")
    (doc,) = docs({"TRIGGER_PAYLOAD": str(payload)})
    assert isinstance(doc, Document) and doc.data == b'["?"]'
    found, errors = parse(doc)
    assert found == [] and str(errors[0]).startswith(f"TRIGGER_PAYLOAD ({payload}): match 1")


@pytest.mark.parametrize(
    ("paths", "env", "said"),
    [
        (["a.json", "b/"], {"MATCHES_JSON": "[]"}, "a.json, b/"),
        ([], {"MATCHES_JSON_B64": "W10=", "MATCHES_FILE": "m.json"}, "$MATCHES_JSON_B64"),
        ([], {"TRIGGER_PAYLOAD": "/p", "MATCHES_JSON": "[]"}, "$TRIGGER_PAYLOAD"),
        ([], {"MATCHES_JSON": "[]", "MATCHES_FILE": "m.json"}, "$MATCHES_JSON"),
        ([], {"MATCHES_FILE": "m.json"}, "$MATCHES_FILE"),
        ([], {"MATCHES_JSON": "", "HOME": "/root"}, "matches-inbox/"),
    ],
)
def test_where_a_run_that_found_nothing_looked(
    paths: list[str], env: dict[str, str], said: str
) -> None:
    assert where_looked(paths, env, "matches-inbox") == said


def test_a_matches_file_that_is_missing_or_unreadable_is_one_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone.json"
    assert [str(e) for e in docs({"MATCHES_FILE": str(gone)})] == [
        f"{gone}: no such file or folder"
    ]
    locked = write(tmp_path / "locked.json", [match()])

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert [str(e) for e in docs({"MATCHES_FILE": str(locked)})] == [
        f"{locked}: cannot be read: Permission denied"
    ]


def test_matches_json_in_ci_warns_in_full_and_undecodable_bytes_are_replaced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The warning names what to do instead; a variable's bytes that are not UTF-8 reach
    Python as lone surrogates (os.environ's surrogateescape) and are read replaced."""
    (doc,) = docs({"MATCHES_JSON": '["\udcff"]', "GITLAB_CI": "true"})
    assert isinstance(doc, Document) and doc.data == b'["?"]'
    assert capsys.readouterr().err == (
        "warning: MATCHES_JSON came from a pipeline variable, which the runner expands "
        "($NAME, ${NAME}, $$): send the document in a trigger request's body, as "
        "scripts/submit-matches does\n"
    )
