"""The one TLS client context of a process, shared by fetching and delivery.

Each context reads the system's certificate store (1.6–3 MB resident); it is made on
the first HTTPS connection, so a node that never dials out over TLS does not pay it.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def client_context() -> ssl.SSLContext:
    return ssl.create_default_context()
