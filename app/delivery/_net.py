"""Host checks shared by the senders: what counts as this machine."""

from __future__ import annotations

import functools
import ipaddress

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@functools.lru_cache(maxsize=1024)  # called per message with the same few hosts
def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1); no DNS lookups,
    so a name that merely resolves to 127.0.0.1 today cannot unlock plaintext tomorrow."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
