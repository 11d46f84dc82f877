"""A gateway's notice reaches operators: one log line, one audit row, one count."""

from __future__ import annotations

import asyncio
import logging

from gateway.gateway import Notice
from mcu.app import Mcu


def test_a_notice_is_audited_logged_and_counted_once(start_mcu, caplog) -> None:
    mcu = start_mcu()
    caplog.set_level(logging.INFO, logger="mcu.app")
    blocked = Notice("sip", "invite-rate", "192.0.2.7", "41 INVITEs/s over 20")
    mcu.inspect(lambda m: m._notice(blocked))
    mcu.inspect(lambda m: m._notice(Notice("sip", "invite-rate", "192.0.2.7", "served again",
                                           ended=True)))

    async def audit(m: Mcu):
        await asyncio.sleep(0.2)  # the audit writes are tasks on the loop
        assert m.store is not None
        return [(a.operation, a.target, a.outcome) for a in await m.store.list_audit()]

    rows = mcu.run(audit(mcu.mcu))
    assert ("blocked", "sip 192.0.2.7", "invite-rate: 41 INVITEs/s over 20") in rows
    assert ("unblocked", "sip 192.0.2.7", "invite-rate: served again") in rows
    assert mcu.inspect(lambda m: m.metrics.value("mcu_blocks_total", protocol="sip",
                                                 what="invite-rate")) == 1
    lines = [r.getMessage() for r in caplog.records if "gateway.notice" in r.getMessage()]
    assert len(lines) == 2 and all("192.0.2.7" in line for line in lines)
