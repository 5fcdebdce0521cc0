"""The kernel's guarantee that a query process cannot reach the network.

:func:`deny_network` installs a seccomp filter (libseccomp through ``pyseccomp``) in the calling
process: from then on ``socket(2)`` fails with ``EACCES`` for every address family but
``AF_UNIX`` (the process talks to the front over an inherited Unix socket), and ``io_uring`` —
which could open sockets behind the filter's back — is refused. The filter is inherited by every
thread and child created afterwards and cannot be removed, so neither SPARQL ``SERVICE`` nor
``LOAD`` nor any other code path of the engine can open an outgoing connection, whatever the
text guard in :mod:`server.sparql.lexer` let through. Install it before any thread is started.
"""
from __future__ import annotations

import errno
import socket


class SandboxError(RuntimeError):
    """The filter could not be installed (no seccomp in this kernel, or no libseccomp)."""


def deny_network() -> None:
    """Forbid this process (and its future threads and children) to create non-Unix sockets."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as err:  # OSError: libseccomp.so.2 missing
        raise SandboxError(f"cannot load libseccomp ({err}); install the Debian package libseccomp2") from None
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        rules.load()
    except OSError as err:
        raise SandboxError(f"cannot install the seccomp filter: {err}") from None


def network_denied() -> bool:
    """True if this process cannot create an inet socket (what the filter guarantees)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except PermissionError:
        return True
    return False
