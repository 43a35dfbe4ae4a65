"""The review-gate CI/CD component and the .gitlab-ci.yml `init` writes, read as files (issue
25): what GitLab lists as components, what the component leaves alone in a user's pipeline,
and that its prefilter is ci/prefilter.py. The pipelines themselves run under
gitlab-ci-local in tests/system/test_component.py and test_pipeline.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from ci import embed_prefilter

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "templates" / "review-gate.yml"
SCAFFOLD = ROOT / "src" / "match_staging" / "scaffold" / "gitlab-ci.yml"
# gitlabhq app/models/ci/catalog/components_project.rb: the files the Catalog lists (and
# `include: component:` finds) are templates/<name>.yml or templates/<name>/template.yml
CATALOG_PATH = re.compile(r"^templates\/[\w-]+(?:\/template)?\.yml$")


def documents(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    header, body = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return header, body


def test_the_only_component_is_review_gate_not_the_message_templates() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "templates"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(name.endswith(".j2") for name in tracked)
    assert [name for name in tracked if CATALOG_PATH.match(name)] == ["templates/review-gate.yml"]


def test_the_component_changes_nothing_but_its_own_jobs() -> None:
    """No `default:`, `stages:`, global `variables:`, `workflow:` or include: a user's other
    jobs and pipeline stay as they are; every name carries the job-name prefix."""
    _, body = documents(COMPONENT)
    prefix = "$[[ inputs.job_prefix ]]"
    jobs = ("stage", "transition", "send", "digest")
    assert sorted(body) == sorted([f".{prefix}match-staging", *(prefix + job for job in jobs)])
    for name, job in body.items():
        if not name.startswith("."):
            assert job["extends"] == f".{prefix}match-staging", name
            assert job["stage"] == f"$[[ inputs.{name.removeprefix(prefix)}_stage ]]", name


def test_every_input_is_described_and_used() -> None:
    header, _ = documents(COMPONENT)
    text = COMPONENT.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    for name, spec in header["spec"]["inputs"].items():
        assert spec.get("description"), name
        assert f"$[[ inputs.{name} ]]" in text, name


def test_the_transition_job_runs_ci_prefilter_py_as_it_is() -> None:
    """A component brings no file into the user's pipeline: the prefilter is in the YAML,
    copied by ci/embed_prefilter.py; a stale copy would decide differently."""
    assert embed_prefilter.main(["--check"]) == 0
    _, body = documents(COMPONENT)
    first = body["$[[ inputs.job_prefix ]]transition"]["before_script"][0]
    script = first.split("<<'MATCH_STAGING_PREFILTER' || prefilter=$?\n", 1)[1]
    script = script.split("\nMATCH_STAGING_PREFILTER\n", 1)[0] + "\n"
    assert script == (ROOT / "ci" / "prefilter.py").read_text(encoding="utf-8")
    stale = embed_prefilter.embedded(COMPONENT.read_text("utf-8"), "print('old')\n")
    assert stale != COMPONENT.read_text("utf-8")


def test_the_prefilter_reads_the_configuration_the_component_names(tmp_path: Path) -> None:
    """The component hands its `config` input to the prefilter: the bot named there ends its
    own events before any install."""
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "gate.yml").write_text("gitlab:\n  bot_username: gate-bot\n", "utf-8")
    payload = tmp_path / "payload.json"
    labels = [{"title": "job-match"}]
    payload.write_text(
        json.dumps(
            {
                "object_kind": "issue",
                "user": {"username": "gate-bot"},
                "labels": labels,
                "object_attributes": {"iid": 3, "labels": labels},
                "changes": {"labels": {"previous": [], "current": labels}},
            }
        ),
        encoding="utf-8",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "ci" / "prefilter.py"), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": os.environ["PATH"], "TRIGGER_PAYLOAD": str(payload)},
        )

    named = run("ops/gate.yml")
    assert named.returncode == 0 and "the tool's own change" in named.stdout
    assert run().returncode == 3  # config/notification-channels.yml: no bot named


def test_the_scaffold_includes_the_component_and_takes_the_pipeline_inputs_of_ours() -> None:
    """What `init` writes: the component at the placeholders init fills in, the version
    input beside it, and the pipeline inputs the trigger call and webhook need, exactly as
    this repository's .gitlab-ci.yml declares them."""
    text = SCAFFOLD.read_text(encoding="utf-8")
    filled = text.replace("{{component}}", "gitlab.com/g/p/review-gate@1.2.3").replace(
        "{{version}}", "1.2.3"
    )
    header, body = yaml.safe_load_all(filled)
    ours, _ = documents(ROOT / ".gitlab-ci.yml")

    def typed(inputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            name: {k: v for k, v in spec.items() if k != "description"}
            for name, spec in inputs.items()
        }

    assert typed(header["spec"]["inputs"]) == typed(ours["spec"]["inputs"])
    (include,) = body["include"]
    assert include["component"] == "gitlab.com/g/p/review-gate@1.2.3"
    assert include["inputs"] == {
        "version": "1.2.3",
        "job": "$[[ inputs.job ]]",
        "send_iid": "$[[ inputs.send_iid ]]",
    }
    assert "default" not in body and "variables" not in body
    assert body["workflow"]["auto_cancel"]["on_new_commit"] == "none"
    component_inputs = documents(COMPONENT)[0]["spec"]["inputs"]
    assert set(include["inputs"]) <= set(component_inputs)
