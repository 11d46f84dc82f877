"""The SIP gateway's settings (section ``sip``; env ``MCU_SIP__*``).

Owned here so the gateway needs nothing of ``mcu/``; ``mcu/settings.py`` composes it.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, SecretStr, field_validator

from gateway.sip.resolve import parse_nameserver


class SipLimits(BaseModel):
    """What one source address may ask of the MCU (issue 19). The defaults never
    bother a real room system or PBX; trusted networks get ``trusted_*`` instead."""

    invites_per_second: float = Field(50.0, gt=0, description="new INVITEs per second "
                                      "per address that do not become calls (an ACKed "
                                      "call gives its token back; burst: twice this)")
    drop_above_per_second: float = Field(100.0, gt=0, description="past this rate of "
                                         "INVITEs that do not become calls, per address, "
                                         "requests are dropped unanswered")
    pending_calls: int = Field(100, ge=1, description="calls answered but not yet ACKed, "
                               "per address")
    live_calls: int = Field(100, ge=1, description="calls up at once, per address")
    seat_share: float = Field(0.5, gt=0, le=1, description="share of all seats "
                              "(conferences.max_total_participants) one address may hold")
    retry_after_s: int = Field(10, ge=1, description="Retry-After of a 503 for a limit")
    trusted_networks: list[str] = Field([], description="addresses or CIDRs (gateways, "
                                        "SBCs, company NAT) exempt from the per-address "
                                        "limits, or held to the trusted_* ones")
    trusted_invites_per_second: float | None = Field(None, gt=0, description="None: "
                                                     "no limit for trusted addresses")
    tcp_connections: int = Field(32, ge=1, description="open TCP connections per address")
    tcp_message_timeout_s: float = Field(10.0, gt=0, description="a partial message "
                                         "not completed within this closes the connection")
    tcp_idle_timeout_s: float = Field(120.0, gt=0, description="a connection with no "
                                      "dialog and no message for this long is closed")

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"sip.limits.trusted_networks: {entry!r} is not an IP "
                                 "address or CIDR (IPv4 or IPv6)") from None
        return [entry.strip() for entry in entries]


def _sip_uri(setting: str, value: str) -> str:
    """A SIP or SIPS URI with a host, else a start-up error naming ``setting``."""
    from .message import SipParseError, parse_uri

    try:
        uri = parse_uri(value.strip())
    except SipParseError as error:
        raise ValueError(f"{setting}: {value!r} is not a SIP URI ({error.reason})") from None
    if uri.scheme not in ("sip", "sips") or not uri.host:
        raise ValueError(f"{setting}: {value!r} is not a sip: or sips: URI with a host")
    return value.strip()


class SipAccount(BaseModel):
    """Digest credentials (RFC 3261 22): what we answer a 401/407 with. The password is
    a secret: never shown in logs, pages or API answers."""

    username: str = Field(min_length=1)
    password: SecretStr
    realm: str | None = Field(None, description="answer only this realm's challenges")


class SipRegistration(BaseModel):
    """One address of record the MCU keeps registered (issue 20): a conference number,
    or the prefix or domain a PBX routes to the MCU."""

    registrar: str = Field(description="sip:host[:port][;transport=tcp]: where REGISTER "
                           "goes (a name is resolved by RFC 3263)")
    aor: str = Field(description="sip:user@domain registered (From and To)")
    username: str = Field("", description="digest user; empty: the AOR's user part")
    password: SecretStr = SecretStr("")
    expires: int = Field(600, ge=10, description="seconds asked; refreshed at half")
    contact_user: str = Field("", description="user part of our Contact; empty: the AOR's")

    @field_validator("registrar")
    @classmethod
    def _registrar(cls, value: str) -> str:
        return _sip_uri("sip.registrations.registrar", value)

    @field_validator("aor")
    @classmethod
    def _aor(cls, value: str) -> str:
        return _sip_uri("sip.registrations.aor", value)


class SipSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(5060, ge=1, le=65535)
    udp: bool = True
    tcp: bool = True
    tls: bool = Field(True, description="SIP over TLS (RFC 3261 section 26) on tls_port, "
                      "with the certificate of the tls section")
    tls_port: int = Field(5061, ge=0, le=65535, description="0: any free port (tests)")
    session_expires_s: int = Field(1800, ge=2, description="RFC 4028 session interval "
                                   "we ask and offer (seconds)")
    min_se_s: int = Field(90, ge=2, description="shortest session interval we accept "
                          "(422 below it); RFC 4028 says 90, tests use less")
    sdes_without_tls: bool = Field(False, description="accept SDES SRTP keys (a=crypto) "
                                   "over unencrypted signalling, where anyone on the path "
                                   "reads them")
    outbound_proxy: str = Field("", description="sip:host[:port][;transport=..]: every "
                                "call we place goes through it (a Route with ;lr)")
    credentials: SipAccount | None = Field(None, description="answer 401/407 to our calls "
                                           "(a proxy's or a callee's challenge)")
    registrations: list[SipRegistration] = Field([], description="addresses of record the "
                                                 "MCU keeps registered")
    max_message_bytes: int = Field(65535, ge=1024)
    user_agent: str = "mcu/0.1"
    t1: float = Field(0.5, gt=0, le=5, description="RFC 3261 T1 (RTT estimate), seconds")
    limits: SipLimits = SipLimits()

    dns_servers: list[str] = Field([], description="DNS servers for dial-out by name "
                                   "(RFC 3263: NAPTR, SRV, A/AAAA), each \"ip\" or "
                                   "\"ip:port\" (\"[v6]:port\"); empty: the system's "
                                   "(/etc/resolv.conf)")
    dns_timeout_s: float = Field(5.0, gt=0, le=60, description="how long resolving one "
                                 "name (all of its NAPTR, SRV and A/AAAA queries) may take "
                                 "before it counts as unresolvable")

    @field_validator("dns_servers")
    @classmethod
    def _dns_servers(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                parse_nameserver(entry)
            except ValueError:
                raise ValueError(f"sip.dns_servers: {entry!r} is not \"ip\" or "
                                 "\"ip:port\"") from None
        return [entry.strip() for entry in entries]

    @field_validator("outbound_proxy")
    @classmethod
    def _proxy(cls, value: str) -> str:
        return _sip_uri("sip.outbound_proxy", value) if value.strip() else ""
