"""The local mailbox: FIFO order, peak depth, targeted removal, waking its reader."""

from __future__ import annotations

import asyncio

from actors._mailbox import CastEnvelope, InfoEnvelope, Mailbox
from actors.testing import wait_all_idle


def test_envelopes_come_out_in_the_order_they_went_in() -> None:
    mailbox = Mailbox()
    for n in range(3):
        mailbox.put(CastEnvelope(n))
    assert [mailbox.take(), mailbox.take(), mailbox.take()] == [
        CastEnvelope(0),
        CastEnvelope(1),
        CastEnvelope(2),
    ]
    assert len(mailbox) == 0


def test_the_peak_depth_is_remembered_after_the_mailbox_drains() -> None:
    mailbox = Mailbox()
    mailbox.put(CastEnvelope(1))
    mailbox.put(CastEnvelope(2))
    mailbox.take()
    mailbox.put(CastEnvelope(3))
    mailbox.clear()
    assert (len(mailbox), mailbox.peak) == (0, 2)
    assert repr(mailbox) == "<Mailbox depth=0 peak=2>"


def test_remove_if_drops_only_the_matching_envelopes_and_keeps_the_order() -> None:
    mailbox = Mailbox()
    for envelope in (CastEnvelope(1), InfoEnvelope(2), CastEnvelope(3), InfoEnvelope(4)):
        mailbox.put(envelope)
    assert mailbox.remove_if(lambda e: isinstance(e, InfoEnvelope)) == 2
    assert list(mailbox) == [CastEnvelope(1), CastEnvelope(3)]


async def test_wait_returns_at_once_when_not_empty_and_otherwise_on_put_or_nudge() -> None:
    mailbox = Mailbox()
    mailbox.put(CastEnvelope("ready"))
    await mailbox.wait()
    mailbox.take()
    for wake in (lambda: mailbox.put(CastEnvelope("later")), mailbox.nudge):
        waiting = asyncio.create_task(mailbox.wait())
        await wait_all_idle()
        assert not waiting.done()
        wake()
        await waiting
        mailbox.clear()
