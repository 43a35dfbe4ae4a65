from __future__ import annotations

import json
from pathlib import Path

import pytest

from match_staging.matches import Document, clean_text, parse, read_batch
from tests.conftest import match, write


def parse_one(data: object) -> tuple[list[str], list[str]]:
    found, errors = parse(Document("in.json", json.dumps(data).encode()))
    return [m.title for m in found], [str(e) for e in errors]


def test_three_document_forms() -> None:
    assert parse_one(match())[0] == ["Senior DevOps Engineer"]
    assert parse_one([match(), match(title="B")])[0] == ["Senior DevOps Engineer", "B"]
    found, _ = parse(Document("c.json", json.dumps(
        {"cycle_id": "c-1", "matches": [match()]}).encode()))
    assert found[0].cycle_id == "c-1"


def test_source_url_is_accepted_for_url() -> None:
    found, errors = parse(Document("x", json.dumps(
        match(url=None, source_url="https://a.example/p")).encode()))
    assert not errors and found[0].url == "https://a.example/p"


@pytest.mark.parametrize(("item", "expected"), [
    (match(score=150), "in.json: match 2 ('Senior DevOps Engineer'): field 'score': "
                       "must be between 0 and 100, got 150"),
    (match(score="95"), "field 'score': must be a number, got text \"95\""),
    (match(provider=None), "field 'provider': is missing (a required field)"),
    (match(url=None), "field 'url': is missing"),
    (match(url="javascript:alert(1)"), "field 'url': is not a valid http(s) URL"),
    (match(title="x" * 3000), "field 'title': is too long (3,000 characters, at most 2,000)"),
    (match(requirements=[{"requirement": "K8s", "score": "high"}]),
     "field 'requirements[0].score': must be a number"),
    (match(requirements=[{"requirement": "K8s", "scroe": 1}]),
     "field 'requirements[0]': unknown field"),
    (match(attachments="cv.pdf"), "field 'attachments': must be a list"),
    (match(title="   "), "field 'title': must not be empty"),
    ("just text", "in.json: match 2: must be an object, got text"),
])
def test_invalid_match_errors_name_file_match_and_field(item: object, expected: str) -> None:
    titles, errors = parse_one([match(title="Good one"), item])
    assert titles == ["Good one"]  # the good match beside it survives
    assert any(expected in e for e in errors), errors


def test_huge_value_is_not_repeated_in_the_message() -> None:
    _, errors = parse_one([match(draft="x" * 200_000)])
    assert len(errors[0]) < 200


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "empty document"),
    (b"   \n", "empty document"),
    (b'{"score": 90,', "not valid JSON: Expecting property name"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
    (b'{"cycle_id": "x", "matches": {"a": 1}}', "field 'matches': must be a list"),
])
def test_broken_documents_name_the_file(data: bytes, expected: str) -> None:
    found, errors = parse(Document("inbox/bad.json", data))
    assert not found
    assert str(errors[0]).startswith("inbox/bad.json: ")
    assert expected in str(errors[0])


def test_utf8_bom_is_accepted() -> None:
    found, errors = parse(Document("x", b"\xef\xbb\xbf" + json.dumps(match()).encode()))
    assert found and not errors


def test_texts_are_cleaned_of_invisible_and_control_characters() -> None:
    found, _ = parse(Document("x", json.dumps(match(
        title="Cloud\u202eArchitect\u200b\nLead\x07", notes="a\r\nb\u2066c")).encode()))
    assert found[0].title == "CloudArchitect Lead"
    assert found[0].notes == "a\nbc"
    assert clean_text("  x \t y  ", single_line=True) == "x y"


def test_apply_string_becomes_email_or_url() -> None:
    found, _ = parse(Document("x", json.dumps([match(apply="jobs@acme.example"),
                                               match(apply="https://acme.example/apply",
                                                     url="https://b.example/")]).encode()))
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
    assert [m.title for m in read_batch([], {"TRIGGER_PAYLOAD": str(payload)}).matches] == \
        ["Via var"]
    write(payload, {"ref": "main", "cycle_id": "c9", "matches": [match(title="Inline body")]})
    found = read_batch([], {"TRIGGER_PAYLOAD": str(payload)}).matches
    assert [(m.title, m.cycle_id) for m in found] == [("Inline body", "c9")]


def test_webhook_payload_is_not_a_match_document(repo: Path) -> None:
    hook = Path(__file__).parent / "fixtures/gitlab/issue_hook_example.json"
    payload = repo / "hook.json"
    payload.write_bytes(hook.read_bytes())
    batch = read_batch([], {"TRIGGER_PAYLOAD": str(payload)})
    assert len(batch.matches) == 5  # falls back to the inbox


@pytest.mark.parametrize(("url", "message"), [
    ("https://a.example:99999/x", "field 'url': is not a valid http(s) URL: Port out of range"),
    ("https://[x/2", "field 'url': is not a valid http(s) URL"),
])
def test_urls_python_cannot_split_reject_only_their_match(url: str, message: str) -> None:
    titles, errors = parse_one([match(title="Good one"), match(url=url)])
    assert titles == ["Good one"]
    assert any(message in e for e in errors), errors


def test_every_invisible_format_character_is_removed() -> None:
    hidden = "\u00ad\u034f\u180e\u3164\U000e0041\U000e0042\u2061\u200b\u202e"
    found, _ = parse(Document("x", json.dumps(match(title=f"Cloud{hidden}Architect",
                                                    notes="ok 👨\u200d💻")).encode()))
    assert found[0].title == "CloudArchitect"
    assert found[0].notes == "ok 👨\u200d💻"  # the joiner inside an emoji stays


@pytest.mark.parametrize("address", ['a"b@x.example', "a(b@x.example", "a:b@x.example"])
def test_apply_address_must_be_one_a_mailer_accepts(address: str) -> None:
    _, errors = parse_one([match(apply={"email": address})])
    assert any("field 'apply': is not an address a mailer accepts" in e for e in errors), errors


def test_trigger_api_document_is_read_once(repo: Path) -> None:
    document = json.dumps([match(title="Once")])
    payload = write(repo / "payload.json", {"ref": "main",
                                            "variables": {"MATCHES_JSON": document}})
    batch = read_batch([], {"MATCHES_JSON": document, "TRIGGER_PAYLOAD": str(payload)})
    assert [m.title for m in batch.matches] == ["Once"]
