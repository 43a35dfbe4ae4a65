"""Which staged matches each channel still owes the reviewer: the delivery queue, kept as one
record per change in the run log instead of a label on every issue.

Why not labels: every issue write fires the project's Issue Hook, and every Issue Hook
delivery to the trigger URL starts a pipeline (docs/platform-facts.md, "Costs on GitLab.com
Free"). A queue label removed after each delivery cost one pipeline per match and channel; a
record in the run log (a bot-authored note on the ledger issue) fires no Issue Hook and
covers a whole cycle.

The queue is a snapshot, written whole after each change, so a run reads only the newest:

- `through`: every issue the bot created with an iid at or below it has been accounted for;
- `accounted`: iids above `through` accounted for too (staged by this tool, queued or done);
- `pending[channel]`: accounted issues the channel has not announced yet;
- `inflight[channel]`: issues handed to the channel by a run that has not recorded the
  outcome. A run that finds these stopped half-way: the message may have arrived, so it is
  never sent again (a reminder follows after a day if nobody reviews);
- `records[iid]`: the fingerprint of the match record the bot wrote into each issue it
  staged, kept while the issue is owed or waiting for review (`record.fingerprint`): what is
  announced or reminded of later is that record only when the issue still holds it byte for
  byte, never what somebody else wrote there since.

Owed is everything the bot staged that no record accounted for: a run that stopped between
creating issues and writing the queue left them above `through`, and the next `stage` or
`digest` finds them there (docs/design.md, "The delivery queue").

Exactly once: a run writes the snapshot with `inflight` set before it sends and the outcome
after. A failed write before sending means nothing is sent; a failed write after sending
leaves `inflight`, which the next run reports and settles without sending again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LOG_KIND = "delivery-queue"


@dataclass
class Queue:
    """What each channel still owes; the snapshot the run log keeps."""

    through: int = 0
    accounted: set[int] = field(default_factory=set)
    pending: dict[str, set[int]] = field(default_factory=dict)
    inflight: dict[str, set[int]] = field(default_factory=dict)
    records: dict[int, str] = field(default_factory=dict)  # iid -> record fingerprint

    # ------------------------------------------------------------------ reading
    def known(self, iid: int) -> bool:
        """Whether the issue is accounted for."""
        return iid <= self.through or iid in self.accounted

    def owed(self, channel: str) -> set[int]:
        """The issues `channel` has not announced yet."""
        return set(self.pending.get(channel, ()))

    def stranded(self) -> dict[str, set[int]]:
        """Messages a stopped run may or may not have delivered."""
        return {c: set(i) for c, i in self.inflight.items() if i}

    # ----------------------------------------------------------------- changing
    def account(
        self,
        iids: Iterable[int],
        channels: Sequence[str],
        records: Mapping[int, str] | None = None,
    ) -> list[int]:
        """Queue the issues not accounted for yet on every channel, with the fingerprints
        of their match records ("" when it cannot be trusted); returns those added.
        """
        added = sorted(i for i in set(iids) if not self.known(i))
        for iid in added:
            self.accounted.add(iid)
            if records is not None and iid in records:
                self.records[iid] = records[iid]
            for channel in channels:
                self.pending.setdefault(channel, set()).add(iid)
        return added

    def owing(self) -> set[int]:
        """Every issue some channel still owes."""
        return set[int]().union(*self.pending.values())

    def start(self, channel: str, iids: Iterable[int]) -> None:
        """Mark a batch as handed to the channel: in flight until `finish`."""
        batch = set(iids)
        self.pending[channel] = self.owed(channel) - batch
        self.inflight[channel] = self.inflight.get(channel, set()) | batch

    def finish(self, channel: str, iids: Iterable[int], *, retry: bool) -> None:
        """The outcome of a started batch: `retry` puts it back in the queue (nothing was
        delivered); otherwise it is done (delivered, or maybe delivered: never repeated).
        """
        batch = set(iids)
        self.inflight[channel] = self.inflight.get(channel, set()) - batch
        if retry:
            self.pending[channel] = self.owed(channel) | batch

    def settle_stranded(self) -> dict[str, set[int]]:
        """Clear what a stopped run left in flight (never sent again); returns it."""
        stranded = self.stranded()
        self.inflight = {}
        return stranded

    def forget(self, iids: Iterable[int]) -> None:
        """Drop issues nobody needs to hear about any more (reviewed, deleted)."""
        gone = set(iids)
        self.pending = {c: i - gone for c, i in self.pending.items()}
        self.records = {i: f for i, f in self.records.items() if i not in gone}
        self.tidy()

    def keep_records(self, waiting: Iterable[int]) -> None:
        """Keep the fingerprints of issues still waiting for review or owed; the others were
        reviewed (`digest`, after listing the pending matches).
        """
        keep = set(waiting) | self.owing() | set[int]().union(*self.inflight.values())
        self.records = {i: f for i, f in self.records.items() if i in keep}

    def pass_over(self, top: int) -> None:
        """Every issue the bot created up to `top` is accounted for now (the run listed them
        all): move `through` there so the record stays small.
        """
        self.through = max([self.through, top])
        self.accounted = {i for i in self.accounted if i > self.through}

    def tidy(self) -> None:
        """Forget channels that owe nothing. A channel switched off for a while keeps what it
        owes (until reviewed).
        """
        self.pending = {c: i for c, i in self.pending.items() if i}
        self.inflight = {c: i for c, i in self.inflight.items() if i}

    # ------------------------------------------------------------------- codec
    def to_data(self) -> dict[str, Any]:
        """The snapshot as JSON for the run log."""
        return {
            "through": self.through,
            "accounted": sorted(self.accounted),
            "pending": {c: sorted(i) for c, i in sorted(self.pending.items()) if i},
            "inflight": {c: sorted(i) for c, i in sorted(self.inflight.items()) if i},
            "records": {str(i): f for i, f in sorted(self.records.items())},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Queue:
        """Tolerant of anything: a record the tool cannot read counts as an empty queue
        above its `through` (only bot-authored records reach this).
        """

        def ints(value: Any) -> set[int]:
            if not isinstance(value, list):
                return set()
            return {v for v in value if isinstance(v, int) and not isinstance(v, bool)}

        def per_channel(value: Any) -> dict[str, set[int]]:
            if not isinstance(value, dict):
                return {}
            return {str(c): ints(v) for c, v in value.items()}

        def fingerprints(value: Any) -> dict[int, str]:
            if not isinstance(value, dict):
                return {}
            return {
                int(i): f
                for i, f in value.items()
                if isinstance(i, str) and i.isdigit() and isinstance(f, str)
            }

        through = data.get("through")
        return cls(
            through=through if isinstance(through, int) else 0,
            accounted=ints(data.get("accounted")),
            pending=per_channel(data.get("pending")),
            inflight=per_channel(data.get("inflight")),
            records=fingerprints(data.get("records")),
        )
