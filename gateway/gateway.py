"""The Gateway: what every protocol package presents to the MCU.

A gateway terminates one signalling protocol (SIP now; RTSP, H.323, WebRTC next) and
turns each remote party into a ``Leg``. The MCU holds its gateways keyed by the URI
schemes they dial and names none of them: adding a protocol is one package that
provides a ``Gateway`` plus one registration line (``mcu/gateways.py``).

Incoming calls reach the MCU through the ``Admit`` callback a gateway is built with
(``CallInfo`` in, ``Refuse`` or ``Seat`` out, see ``gateway/leg.py``); outgoing ones
through ``dial``. Every method runs on the event loop; none blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.leg import Admit, Seat
from gateway.rtp.ports import PortAllocator


class UnsupportedUri(ValueError):
    """A URI no running gateway (or not this gateway) can dial: its scheme or form."""


@dataclass(frozen=True, slots=True)
class Notice:
    """Something an operator must see, said once per episode (not once per packet):
    a source address blocked by an admission limit and when it is served again, a
    connection flood refused. The MCU writes it to the audit log."""

    protocol: str  # the gateway's name
    what: str  # short and stable, e.g. "invite-rate", "pending-calls", "tcp-connections"
    address: str  # the peer's IP address (never credentials)
    detail: str  # for people: the limit and what was seen
    ended: bool = False  # False: the episode starts; True: the address is served again


def _ignore(notice: Notice) -> None:
    return None


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """What the MCU lends every gateway it builds."""

    admit: Admit  # asked once per incoming call: CallInfo -> Refuse | Seat
    ports: PortAllocator  # the one RTP port range all gateways share
    notice: Callable[[Notice], None] = _ignore  # tells operators (audit log)


@runtime_checkable
class Gateway(Protocol):
    name: str
    """The protocol's short name ("sip", "rtsp", "h323"): the ``protocol`` of its legs
    and the label of its metrics."""

    @property
    def schemes(self) -> tuple[str, ...]:
        """The URI schemes ``dial`` accepts (lower case, without the colon)."""

    async def start(self) -> None:
        """Open sockets and begin taking calls."""

    async def stop(self) -> None:
        """End every call (the protocol's hang-up), wait briefly, close every socket."""

    def dial(self, uri: str, seat: Seat, *, conference: str, display_name: str,
             options: Mapping[str, str] | None = None) -> str:
        """Call ``uri`` out; its Leg joins ``seat`` once up. Returns the future Leg's id.

        ``conference`` is the numeric ID the call is for (some protocols show it as
        the caller), ``display_name`` how we present ourselves; ``options`` are the
        protocol's own (an RTSP camera's ``name`` and ``transport``); a gateway ignores
        those it does not know. Raises
        ``UnsupportedUri`` (a ``ValueError``) for a URI it cannot dial and
        ``gateway.rtp.ports.PortsExhausted`` when no media ports are left; nothing is
        held after either.
        """

    def registrations(self) -> list[dict[str, object]]:
        """What this gateway keeps registered with registrars or gatekeepers (SIP
        REGISTER, H.323 RAS): ``aor``, ``registrar``, ``state`` (registering,
        registered, failed, unregistered), ``reason``, ``expires``; [] when none."""

    def statistics(self) -> dict[str, int]:
        """Counters for the operator: at least ``calls`` (calls up or being set up) and
        ``rtp_ports_in_use`` (media ports this gateway holds now). Every other key is a
        monotonic count of events (e.g. ``blocked_invite_rate``), exported as
        ``mcu_gateway_events_total{protocol, event}``."""
