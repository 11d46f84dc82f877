"""``sip.limits.trusted_networks`` as a membership test: the one place that decides
whether a source address is exempt from per-address limits (TCP cap, INVITE limits)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


class TrustedNetworks:
    """``sip.limits.trusted_networks``: addresses or CIDRs exempt from per-address limits."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(ip in net for net in self.networks if net.version == ip.version)
