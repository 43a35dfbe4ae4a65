"""The layers of docs/design.md are not only described: import-linter's contracts in
pyproject.toml hold them, and CI checks them with `lint-imports` (issue 21)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import ROOT


def test_ci_checks_the_import_contracts_the_readme_names() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert any(line.split("#")[0].strip() == "lint-imports" for line in ci)
    assert "`lint-imports`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_contracts_cover_the_layers_the_channels_and_circles() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(t.startswith("import-linter") for t in project["dependency-groups"]["test"])
    contracts = project["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    assert layers["exhaustive"] is True  # a new module must say where it stands
    assert [x for x in layers["layers"] if x in ("cli", "usecases", "context")] == [
        "cli",
        "usecases",
        "context",
    ]
    assert layers["layers"][-2] == "trackers | channels | output"
    core = {name.strip() for name in layers["layers"][-1].split(":")}
    assert {"config", "labels", "redaction", "clock", "environment"} <= core
    independent = [set(c["modules"]) for c in contracts if c["type"] == "independence"]
    # every registered channel's adapter and declaration, whichever channels there are
    from match_staging.channels import registry

    adapters = {spec.adapter.partition(":")[0] for spec in registry.specs()}
    declarations = {spec.settings.__module__ for spec in registry.specs()}
    assert adapters in independent and declarations in independent
    (acyclic,) = [c for c in contracts if c["type"] == "acyclic_siblings"]
    assert "skip_descendants" not in acyclic  # use cases too: bootstrap is split by job


def test_config_loaded_without_the_channel_registry_says_what_is_missing() -> None:
    code = (
        "from match_staging import config\n"
        "try:\n    config.load(None, {})\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("StagingError internal: no channel sections"), done.stdout
