"""A test-side SIP UAC built on our own SIP core, for peers that speak no SIP (ffmpeg,
raw sockets): it places a call with a given SDP offer, hands back the answer, sends
INFO in the dialog and hangs up.

``SipEndpoint`` (UAC role) behind a ``SipTransport`` on 127.0.0.1 (UDP), running
on an event loop thread of its own, so blocking tests drive it like the baresip
peers.  INFO answers come as the core's ``InfoAnswered`` events; every SIP message it
receives is also kept (``received``) for what the core reports no event for, such as
the answer to our BYE.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from gateway.sip.endpoint import (
    CallAnswered,
    CallEnded,
    CallFailed,
    Event,
    InfoAnswered,
    ReInvite,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.media_control import FAST_UPDATE_BODY, MEDIA_CONTROL_TYPE
from gateway.sip.transport import SipTransport

LOOPBACK = "127.0.0.1"
_CSEQ = re.compile(rb"^CSeq:\s*(\d+)\s+(\w+)", re.I | re.M)


class SipUacError(RuntimeError):
    """The call failed, or an expected answer never came."""


class SipUac:
    """One UAC with at most one call at a time.  Use as a context manager."""

    def __init__(self, name: str = "uac", host: str = LOOPBACK) -> None:
        """``host``: the loopback address to call from (127.0.0.0/8 is all ours)."""
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name=f"sip-uac-{name}")
        self.endpoint = SipEndpoint(SipCoreConfig(user_agent=f"test-uac-{name}",
                                                  local_host=host))
        self.transport = SipTransport(self.endpoint, host, 0, udp=True, tcp=False,
                                      on_events=self._on_events)
        self.events: list[Event] = []  # every event, in order (read on any thread)
        self.received: list[bytes] = []  # every SIP message received, raw
        self.call: str | None = None
        self.answer: bytes | None = None
        # The MCU's re-INVITEs (it asks for picture sizes so): answered with this
        # status, 2xx carrying our own description again, as a plain UA does.
        self.reinvite_status = 200
        self.reinvites: list[bytes | None] = []
        self._lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        await self.transport.start()
        self.endpoint.config.local_port = self.transport.port
        original = self.transport._on_datagram  # keep a copy of what arrives

        def on_datagram(data: bytes, addr: tuple) -> None:  # type: ignore[type-arg]
            with self._lock:
                self.received.append(data)
            original(data, addr)

        self.transport._on_datagram = on_datagram  # type: ignore[method-assign]

    def close(self) -> None:
        """Hang up a live call (without waiting), stop the transport and the loop."""
        if not self._thread.is_alive():
            return
        try:
            if self.call is not None and not self.ended():
                self._act(lambda: self.endpoint.hangup(self.call or "", "test over",
                                                       now=self.transport.now()))
                time.sleep(0.2)  # let the BYE leave
            self._run(self.transport.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        return self.transport.port

    # ---- calls ----------------------------------------------------------------
    def invite(self, uri: str, sdp: bytes | str, timeout: float = 10.0,
               from_user: str | None = None) -> bytes:
        """Call `uri` (e.g. "sip:1000@127.0.0.1:5062") offering `sdp`; return the answer.

        Raises SipUacError on a failure response or when no answer comes in time.
        """
        host, port = _loopback_target(uri)
        body = sdp.encode() if isinstance(sdp, str) else sdp
        start = len(self.events)
        self.call = self._act(lambda: self.endpoint.invite(
            uri, (host, port), "udp", from_user=from_user or self.name,
            display_name=self.name, sdp=body, now=self.transport.now()))
        event = self.wait_event(lambda e: isinstance(e, CallAnswered | CallFailed | CallEnded),
                                timeout, after=start)
        if not isinstance(event, CallAnswered):
            raise SipUacError(f"{self.name}: INVITE to {uri} failed: {event}")
        if not event.sdp:
            raise SipUacError(f"{self.name}: 2xx without an SDP answer")
        self.answer = event.sdp
        return event.sdp

    def send_info(self, content_type: str, body: bytes, timeout: float = 5.0) -> int:
        """Send INFO in the dialog; return the status of its final response (the core
        reports it as InfoAnswered)."""
        call = self._live_call()
        with self._lock:
            mark = len(self.events)
        self._act(lambda: self.endpoint.send_info(call, content_type, body,
                                                  now=self.transport.now()))
        event = self.wait_event(lambda e: isinstance(e, InfoAnswered) and e.call == call,
                                timeout, after=mark)
        assert isinstance(event, InfoAnswered)
        return event.status

    def fast_update(self, timeout: float = 5.0) -> int:
        """RFC 5168 picture_fast_update by SIP INFO; the final response's status."""
        return self.send_info(MEDIA_CONTROL_TYPE, FAST_UPDATE_BODY, timeout)

    def hangup(self, timeout: float = 10.0) -> None:
        """BYE, and wait for its 200 (so the MCU's side is done with the dialog)."""
        call = self._live_call()
        mark = len(self.received)
        cseq = self._act(lambda: self._bye(call))
        self.wait_response("BYE", cseq, timeout, after=mark)

    def _bye(self, call: str) -> int:
        self.endpoint.hangup(call, "test", now=self.transport.now())
        newest = next(reversed(self.endpoint.layer.client.values()))
        return newest.request.cseq[0]

    def ended(self) -> bool:
        return any(isinstance(e, CallEnded) and e.call == self.call for e in self.events)

    def wait_ended(self, timeout: float = 10.0) -> CallEnded:
        """Wait for the call to end (e.g. the MCU's BYE)."""
        event = self.wait_event(lambda e: isinstance(e, CallEnded) and e.call == self.call,
                                timeout)
        assert isinstance(event, CallEnded)
        return event

    # ---- waiting --------------------------------------------------------------
    def wait_event(self, match: Callable[[Event], bool], timeout: float = 10.0,
                   after: int = 0) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [e for e in self.events[after:] if match(e)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise SipUacError(f"{self.name}: no matching event in {timeout}s: "
                                  f"{self.events[after:]}")
            time.sleep(0.02)

    def wait_response(self, method: str, cseq: int, timeout: float = 5.0,
                      after: int = 0) -> int:
        """The status of the final response to our `method` with `cseq`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                messages = self.received[after:]
            for data in messages:
                status = _final_status(data, method, cseq)
                if status is not None:
                    return status
            if time.monotonic() > deadline:
                raise SipUacError(f"{self.name}: no final response to {method} (CSeq {cseq})")
            time.sleep(0.02)

    # ---- the loop thread ------------------------------------------------------
    def _on_events(self, events: list[Event]) -> None:
        with self._lock:
            self.events.extend(events)
        for event in events:
            if isinstance(event, ReInvite):
                self.reinvites.append(event.sdp)
                status = self.reinvite_status
                body = self.endpoint.local_sdp(event.call) if status < 300 else None
                self.endpoint.respond_invite(event.call, status, None, body=body,
                                             now=self.transport.now())
                self.transport.flush()

    def _live_call(self) -> str:
        if self.call is None or self.ended():
            raise SipUacError(f"{self.name}: no call in progress")
        return self.call

    def _run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _act(self, action: Callable[[], Any]) -> Any:
        """Run `action` on the endpoint's loop and send what it queued."""

        async def on_loop() -> Any:
            result = action()
            self.transport.flush()
            return result

        return self._run(on_loop())


def _loopback_target(uri: str) -> tuple[str, int]:
    match = re.fullmatch(r"sip:[^@]+@(127\.\d+\.\d+\.\d+)(?::(\d+))?(;.*)?", uri)
    if match is None:
        raise ValueError(f"{uri!r}: this test UAC only calls 127.0.0.0/8 over UDP")
    return match.group(1), int(match.group(2) or 5060)


def _final_status(data: bytes, method: str, cseq: int) -> int | None:
    """The status of `data` if it is a final response to (`method`, `cseq`)."""
    if not data.startswith(b"SIP/2.0 "):
        return None
    head = data.split(b"\r\n\r\n", 1)[0]
    found = _CSEQ.search(head)
    if found is None or int(found.group(1)) != cseq or found.group(2).decode() != method:
        return None
    status = int(data[8:11])
    return status if status >= 200 else None
