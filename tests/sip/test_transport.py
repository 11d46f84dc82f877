"""Smoke test of SipTransport over 127.0.0.1 (UDP and TCP), asyncio and uvloop."""

from __future__ import annotations

import asyncio

import pytest

from gateway.sip.endpoint import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    IncomingCall,
    InfoReceived,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.transport import SipTransport, local_ip_toward

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


async def _call_flow(transport: str) -> None:
    uas_events: list = []
    uac_events: list = []
    got = asyncio.Event()

    uas_ep = SipEndpoint(SipCoreConfig(local_host="127.0.0.1", local_port=0))
    uac_ep = SipEndpoint(SipCoreConfig(local_host="127.0.0.1", local_port=0))

    def on_uas(events: list) -> None:
        uas_events.extend(events)
        for e in events:
            if isinstance(e, IncomingCall):
                uas_ep.respond_invite(e.call, 180)
                uas_ep.respond_invite(e.call, 200, body=b"v=0\r\nanswer\r\n")
        got.set()

    def on_uac(events: list) -> None:
        uac_events.extend(events)
        got.set()

    uas = SipTransport(uas_ep, "127.0.0.1", 0, on_events=on_uas)
    await uas.start()
    uac = SipTransport(uac_ep, "127.0.0.1", 0, on_events=on_uac)
    await uac.start()

    async def until(pred, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not pred():
                got.clear()
                await got.wait()
        await asyncio.wait_for(wait(), timeout)

    try:
        call = uac_ep.invite(f"sip:1000@127.0.0.1:{uas.port}", ("127.0.0.1", uas.port),
                             transport, from_user="alice", sdp=b"v=0\r\noffer\r\n",
                             local=uac.local_address("127.0.0.1"))
        uac.flush()
        await until(lambda: any(isinstance(e, CallConfirmed) for e in uas_events))
        assert [e for e in uac_events if isinstance(e, CallAnswered)] == [
            CallAnswered(call, b"v=0\r\nanswer\r\n")]
        (inc,) = [e for e in uas_events if isinstance(e, IncomingCall)]
        assert inc.transport == transport and inc.user == "1000"
        uac_ep.send_info(call, "text/plain", b"hello")
        uac.flush()
        await until(lambda: any(isinstance(e, InfoReceived) for e in uas_events))
        uac_ep.hangup(call, "bye-test")
        uac.flush()
        await until(lambda: any(isinstance(e, CallEnded) for e in uas_events))
        assert [e for e in uac_events if isinstance(e, CallEnded)] == [
            CallEnded(call, "bye-test", False)]
        assert uac_ep.call_count == uas_ep.call_count == 0
        assert uac_ep.dialog_count == uas_ep.dialog_count == 0
    finally:
        await uac.close()
        await uas.close()


def _loop_factory(name: str):
    return uvloop.new_event_loop if name == "uvloop" else asyncio.new_event_loop


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_transport_call(loop_name: str, transport: str) -> None:
    with asyncio.Runner(loop_factory=_loop_factory(loop_name)) as runner:
        runner.run(_call_flow(transport))


def test_local_ip_toward_loopback() -> None:
    assert local_ip_toward("127.0.0.1") == "127.0.0.1"
    transport = SipTransport(SipEndpoint(), "0.0.0.0", 5999)
    assert transport.local_address("127.0.0.1") == ("127.0.0.1", 5999)
