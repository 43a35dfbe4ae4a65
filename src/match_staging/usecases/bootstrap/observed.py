"""Actual state: what the project holds, read with a few listings."""

from __future__ import annotations

from collections.abc import Sequence

from match_staging.errors import TrackerError
from match_staging.trackers.gitlab_project import ScheduleState
from match_staging.usecases.bootstrap.model import Actual, Desired, ProjectAdmin


def observe(admin: ProjectAdmin, want: Desired) -> Actual:
    """Actual state: five listings, plus our schedule's variables when it exists and we set
    any. A listing GitLab refuses (a Developer may not list hooks) is noted, not fatal.
    """
    actual = Actual()
    for part, read in (
        ("labels", admin.labels),
        ("boards", admin.boards),
        ("triggers", admin.triggers),
        ("hooks", admin.hooks),
        ("schedules", admin.schedules),
    ):
        try:
            setattr(actual, part, read())
        except TrackerError as exc:
            if exc.status not in (401, 403, 404):
                raise  # GitLab down or failing: nothing here can be trusted
            actual.unreadable[part] = exc
    schedule = find_schedule(actual.schedules, want)
    if schedule is not None and want.schedule_variables:
        actual.schedule_variables = admin.schedule_variables(schedule.id)
    return actual


def find_schedule(schedules: Sequence[ScheduleState], want: Desired) -> ScheduleState | None:
    """Ours is the schedule with our description."""
    return next((s for s in schedules if s.description == want.schedule["description"]), None)
