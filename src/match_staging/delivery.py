"""Which staged matches each channel still owes the reviewer: the delivery queue, kept as one
record per change in the run log instead of a label on every issue.

Why not labels: every issue write fires the project's Issue Hook, and every Issue Hook
delivery to the trigger URL starts a pipeline (docs/platform-facts.md, "Costs on GitLab.com
Free"). A queue label removed after each delivery cost one pipeline per match and channel; a
record in the run log (a bot-authored note on the ledger issue) fires no Issue Hook and
covers a whole cycle.

The queue is a snapshot, written whole after each change, so a run reads only the newest:

- `through`: every job-match issue with an iid at or below it has been accounted for;
- `accounted`: iids above `through` accounted for too (staged by this tool, queued or done);
- `pending[channel]`: accounted issues the channel has not announced yet;
- `inflight[channel]`: issues handed to the channel by a run that has not recorded the
  outcome. A run that finds these stopped half-way: the message may have arrived, so it is
  never sent again (a reminder follows after a day if nobody reviews).

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
    legacy_done: bool = False  # queue labels of the first release read once (`digest`)

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
    def account(self, iids: Iterable[int], channels: Sequence[str]) -> list[int]:
        """Queue the issues not accounted for yet on every channel; returns those added."""
        added = sorted(i for i in set(iids) if not self.known(i))
        for iid in added:
            self.accounted.add(iid)
            for channel in channels:
                self.pending.setdefault(channel, set()).add(iid)
        return added

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
        """Drop issues nobody needs to hear about any more (reviewed, closed, gone)."""
        gone = set(iids)
        self.pending = {c: i - gone for c, i in self.pending.items()}

    def advance(
        self, waiting: Iterable[int], channels: Sequence[str]
    ) -> tuple[list[int], list[int]]:
        """After listing every issue waiting for review (`digest`): queue those nobody
        accounted for (staged by a run that stopped before it wrote the queue), drop those
        no longer waiting (reviewed before anyone was told), and move `through` past all of
        them so the record stays small. Returns (queued, dropped).
        """
        still = set(waiting)
        queued = self.account(still, channels)
        owed = set[int]().union(*self.pending.values())
        dropped = sorted(owed - still)
        self.forget(dropped)
        self.through = max([self.through, *self.accounted, *still])
        self.accounted = set()
        # a channel switched off for a while keeps what it owes (until reviewed)
        self.pending = {c: i for c, i in self.pending.items() if i}
        return queued, dropped

    # ------------------------------------------------------------------- codec
    def to_data(self) -> dict[str, Any]:
        """The snapshot as JSON for the run log."""
        return {
            "through": self.through,
            "accounted": sorted(self.accounted),
            "pending": {c: sorted(i) for c, i in sorted(self.pending.items()) if i},
            "inflight": {c: sorted(i) for c, i in sorted(self.inflight.items()) if i},
            "legacy_done": self.legacy_done,
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

        through = data.get("through")
        return cls(
            through=through if isinstance(through, int) else 0,
            accounted=ints(data.get("accounted")),
            pending=per_channel(data.get("pending")),
            inflight=per_channel(data.get("inflight")),
            legacy_done=data.get("legacy_done") is True,
        )
