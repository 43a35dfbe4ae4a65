"""The notices and the new-match cycle the webhook channels' tests send (Slack, Teams,
Telegram): one place, so each channel is tested on the same matches."""

from __future__ import annotations

from match_staging.notices import Notice, Payload, build


def notice(
    iid: int,
    score: float,
    title: str,
    provider: str = "Amoria Bond",
    location: str | None = "Heilbronn Remote",
) -> Notice:
    return Notice(
        iid=iid,
        score=score,
        title=title,
        provider=provider,
        issue_url=f"https://gitlab.example.com/fl/backoffice/-/issues/{iid}",
        source_url=f"https://jobs.example/{iid}",
        location=location,
        duration="3 Mo+",
    )


def cycle(*items: Notice, summary: str = "2 neue Matches: …") -> Payload:
    return build("new", "c1", list(items), "job-match/pending", summary=summary)
