"""`init`: the review gate in the user's own repository, without a copy of ours: a
`.gitlab-ci.yml` that includes the CI/CD component, the match schema and an example in
`matches-inbox/`, and a configuration with every channel disabled. It only ever creates
files: one that exists is left as it is, whatever it holds (the user's `.gitlab-ci.yml`
gets the lines to add instead).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from match_staging import __version__, resources
from match_staging.errors import ConfigError, Refused

# Where the component is published (the CI/CD Catalog project); `--component-project`
# names another, e.g. a mirror on a self-managed GitLab.
DEFAULT_COMPONENT_PROJECT = "gitlab.com/freelancer/match-staging"
COMPONENT = "review-gate"  # templates/review-gate.yml: GitLab names a component by its file
CI_FILE = ".gitlab-ci.yml"
# <host>[:port]/<group>[/<subgroup>...]/<project>: the form of CI_SERVER_FQDN/CI_PROJECT_PATH
# that `include: component:` takes, the host also as `$CI_SERVER_FQDN` (the instance the
# pipeline runs on) (doc/ci/components/_index.md, "Use a component")
_PROJECT = re.compile(
    r"(\$CI_SERVER_FQDN|[A-Za-z0-9.-]+(:[0-9]{1,5})?)(/[A-Za-z0-9_][A-Za-z0-9_.-]*){2,}"
)


@dataclass(frozen=True)
class Scaffold:
    """One file init writes: where (relative to the repository's top), what, and why."""

    path: str
    text: str
    what: str


@dataclass
class InitReport:
    """What init created, found already there, or could not write; the CLI prints `lines`."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    created: int = 0
    existing: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        """Whether every file that was missing could be written."""
        return not self.failed

    def summary(self) -> str:
        """The count line, before the next steps."""
        if self.dry_run:
            return (
                f"dry run: {self.created} file(s) would be created, {self.existing} already "
                "there; nothing was written"
            )
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.created} file(s) created{failed}, {self.existing} already there "
            "(left as they are)"
        )


def component_ref(project: str, version: str = __version__) -> str:
    """The `include: component:` reference to this version's component in `project`."""
    project = project.strip().removesuffix("/")
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"--component-project {project!r}: expected HOST/GROUP/PROJECT, as in "
            f"{DEFAULT_COMPONENT_PROJECT} (no https://, no @version)"
        )
    return f"{project}/{COMPONENT}@{version}"


def scaffolds(component: str, version: str = __version__) -> list[Scaffold]:
    """The files init writes, filled in: the package's scaffold files and the schema."""
    folder = resources.scaffold_dir()
    # str.replace, not Jinja: the pipeline holds GitLab's own `$[[ inputs.x ]]`
    ci = (folder / "gitlab-ci.yml").read_text(encoding="utf-8")
    ci = ci.replace("{{component}}", component).replace("{{version}}", version)
    example = (folder / "example-cycle.json").read_text(encoding="utf-8")
    count = len(json.loads(example)["matches"])
    return [
        Scaffold(CI_FILE, ci, f"includes {component}"),
        Scaffold(
            "matches-inbox/match.schema.json",
            resources.schema_path().read_text(encoding="utf-8"),
            "the JSON Schema of a match document",
        ),
        Scaffold(
            "matches-inbox/example-cycle.json",
            example,
            f"an example cycle of {count} matches: `match-staging stage` stages it",
        ),
        Scaffold(
            "config/notification-channels.yml",
            (folder / "notification-channels.yml").read_text(encoding="utf-8"),
            "every channel disabled, secrets as ${NAME}",
        ),
    ]


def init(root: Path | str, component_project: str, *, dry_run: bool) -> InitReport:
    """Create the missing scaffold files at `root`, the top of a git checkout; refused
    (nothing written) anywhere else. Then the next two steps.
    """
    root = Path(root)
    _check_top_of_checkout(root)
    component = component_ref(component_project)
    report = InitReport(dry_run=dry_run)
    for scaffold in scaffolds(component):
        target = root / scaffold.path
        if target.exists() or target.is_symlink():
            problem = "exists"
        else:
            problem = "" if dry_run else _create(target, scaffold.text)
        if problem == "exists":
            report.existing += 1
            report.lines += _existing(scaffold, target, component)
            continue
        if problem:
            report.failed += 1
            report.lines.append(f"failed    {scaffold.path}: {problem}")
            continue
        report.created += 1
        report.lines.append(f"create    {scaffold.path} ({scaffold.what})")
    report.lines.append(report.summary())
    report.lines += next_steps()
    return report


def next_steps() -> list[str]:
    """What a user does after init, in order."""
    return [
        "next      1. match-staging bootstrap, with GITLAB_URL, GITLAB_TOKEN (an api token, "
        "Maintainer) and GITLAB_PROJECT set: it creates the labels, the board, the trigger, "
        "the issue webhook and the digest schedule, and writes the GitLab URL and ids into "
        "config/notification-channels.yml: commit that file",
        "next      2. Settings > CI/CD > Variables: GITLAB_TOKEN (the bot's api token, masked "
        'and protected) and the secrets of the channels you enable (README, "CI/CD '
        'variables"); then push: the pipeline stages what is in matches-inbox/',
    ]


def include_lines(ci_text: str) -> list[str]:
    """What a user adds to their own `.gitlab-ci.yml`: the scaffold without its comments
    (the `spec:` header the include's inputs need, its `---`, the `include:`, the rest).
    """
    return [
        line for line in ci_text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _create(target: Path, text: str) -> str:
    """Write a new file: "" when done, "exists" when one is there, else what went wrong."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where the folder goes, no permission
        return f"could not create its folder: {exc.strerror or exc}"
    try:
        with target.open("xb") as file:  # "x": never over a file, even one just made
            file.write(text.encode("utf-8"))
    except FileExistsError:
        return "exists"
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def _existing(scaffold: Scaffold, target: Path, component: str) -> list[str]:
    if scaffold.path != CI_FILE:
        return [f"exists    {scaffold.path}: left as it is"]
    try:
        present = target.read_text(encoding="utf-8", errors="replace")
    except OSError:
        present = ""
    name, version = component.rsplit("@", 1)
    found = re.search(rf"{re.escape(name)}@([\w.~+-]*\w)", present)  # 1.2.3, ~latest, a SHA
    if found and found[1] == version:
        return [f"exists    {CI_FILE}: it includes {COMPONENT} already; left as it is"]
    if found:  # another version (or ~latest): the user pins it, init does not upgrade
        return [
            f"exists    {CI_FILE}: it includes {COMPONENT}@{found[1]}; left as it is (this "
            f"match-staging is {version}: to move to it, change the component's version and "
            "its `version` input there)"
        ]
    return [
        f"exists    {CI_FILE}: left as it is; add these lines to it (the spec: header and "
        "its --- at the top; each key merged with the one the file has, if it has one):",
        *(f"          {line}" for line in include_lines(scaffold.text)),
    ]


def _check_top_of_checkout(root: Path) -> None:
    """GitLab reads `.gitlab-ci.yml` at the top of the repository only: init writes there."""
    for folder in [root, *root.parents]:
        if (folder / ".git").exists():
            if folder != root:
                raise Refused(
                    f"run match-staging init at the top of the git checkout ({folder}): "
                    f"GitLab reads {CI_FILE} there; nothing was written"
                )
            return
    raise Refused(
        f"{root} is not a git checkout: run match-staging init at the top of your project's "
        "repository (git clone or git init first); nothing was written"
    )
