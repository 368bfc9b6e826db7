"""The SSRF guard for outgoing HTTP to addresses users chose: only public addresses pass.

A marketer types the webhook URL, so without a guard a journey could make our
servers call their own admin ports, the cloud metadata service (169.254.169.254)
or the office network. We resolve the host ourselves, refuse it when ANY address
it resolves to is not public, and connect to the address we checked (so a DNS
answer that changes between check and connect, "DNS rebinding", cannot slip by).
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedDestination(Exception):
    """The destination is not a public address (a permanent failure)."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def why_blocked(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be called ("loopback", "private" ...), or None if it is public."""
    checks = [
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        # Shared (100.64/10), documentation, benchmarking ranges ...
        ("not globally routable", not ip.is_global),
    ]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return "site-local"
        for inner in _embedded_ipv4(ip):
            reason = why_blocked(inner)
            if reason:
                return f"{reason} (IPv4 {inner} inside {ip})"
    for reason, hit in checks:
        if hit:
            return reason
    return None


def resolve_public(host: str, port: int) -> list[str]:
    """The addresses of ``host``, all public; raises BlockedDestination otherwise.

    ``socket.gaierror`` (the name does not resolve) is left to the caller: a DNS
    failure may be temporary.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        ip = ipaddress.ip_address(raw)
        reason = why_blocked(ip)
        if reason:
            raise BlockedDestination(
                f"refused: {host} resolves to {ip} ({reason}); webhooks may only call "
                "public addresses (JOURNEYS_WEBHOOK_ALLOW_PRIVATE=1 lifts this)"
            )
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise BlockedDestination(f"refused: {host} resolves to no address")
    return addresses
