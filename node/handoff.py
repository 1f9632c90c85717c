"""The loopback hand-off between the `comuna` command and its running node.

`comuna serve` writes, in the data directory, the address it listens on and a fresh
random token, readable by the directory's owner only. `comuna post` hands its text
to that node over loopback instead of loading the whole application itself: the
command then starts in a fraction of the time, and the node wakes its delivery
worker at once instead of finding the rows at its next poll. When no node is
reached, nothing was written and the command writes the rows itself.

Standard library only: this module is imported by the command before anything else.
"""

from __future__ import annotations

import contextlib
import hmac
import http.client
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "serve.local.json"
POST_PATH = "/_local/post"
# Publishing is one short transaction; SQLite may make it wait behind other writers.
TIMEOUT = 30.0


@dataclass(frozen=True)
class Handoff:
    host: str
    port: int
    token: str


class NotReached(Exception):
    """No running node took the request, so nothing was written."""


class Refused(Exception):
    """The node refused the post (the text is not acceptable); nothing was written."""


class Unconfirmed(Exception):
    """The request reached the node but no answer confirmed the post: it may or may
    not be published, so posting again could publish it twice."""


def dial_host(bind: str) -> str:
    """Where a client on this machine reaches a server bound to `bind`."""
    if bind in ("", "0.0.0.0"):  # noqa: S104  (recognised, not bound)
        return "127.0.0.1"
    if bind in ("::", "[::]"):
        return "::1"
    return bind.strip("[]")


def write(data_dir: Path, bind: str, port: int) -> Handoff:
    """A new token for a node about to listen on `bind`:`port`, stored for the
    directory's owner only (created 0600, then moved into place)."""
    handoff = Handoff(dial_host(bind), port, secrets.token_urlsafe(32))
    path = data_dir / FILE_NAME
    tmp = path.with_name(f"{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"host": handoff.host, "port": handoff.port, "token": handoff.token}, f)
    os.replace(tmp, path)
    return handoff


def read(data_dir: Path) -> Handoff | None:
    try:
        raw = json.loads((data_dir / FILE_NAME).read_text("utf-8"))
        return Handoff(str(raw["host"]), int(raw["port"]), str(raw["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(data_dir: Path, handoff: Handoff) -> None:
    """Remove the file if it is still ours (another node may have started since)."""
    if read(data_dir) == handoff:
        with contextlib.suppress(OSError):
            (data_dir / FILE_NAME).unlink()


def authorised(expected: str | None, authorization: str | None) -> bool:
    if not expected or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[len("Bearer "):].encode(), expected.encode())


def post_note(data_dir: Path, text: str, timeout: float = TIMEOUT) -> str:
    """Have the running node publish `text`; the activity id it answers.

    Raises NotReached when no node took it (no hand-off file, nothing listening,
    or a process that does not know the token), Refused when the node turned the
    text down, Unconfirmed when it may have published it without saying so."""
    handoff = read(data_dir)
    if handoff is None:
        raise NotReached("no running node recorded in the data directory")
    conn = http.client.HTTPConnection(handoff.host, handoff.port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as exc:  # a node that stopped without removing the file
            raise NotReached(f"nothing answers at {handoff.host}:{handoff.port}") from exc
        body = json.dumps({"text": text}).encode()
        try:
            conn.request("POST", POST_PATH, body=body, headers={
                "Authorization": f"Bearer {handoff.token}",
                "Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = resp.read()
        except OSError as exc:
            raise Unconfirmed(f"the node did not answer: {exc}") from exc
        if resp.status in (401, 403, 404):
            # Not a node holding this token (a stale file, a port now used by another
            # program): it refused before writing anything.
            raise NotReached(f"the process at {handoff.host}:{handoff.port} refused "
                             f"(HTTP {resp.status})")
        detail = answer[:300].decode("utf-8", "replace")
        if 400 <= resp.status < 500:
            raise Refused(f"the node refused the post (HTTP {resp.status}): {detail}")
        try:
            activity_id = json.loads(answer)["id"] if resp.status == 201 else None
        except (ValueError, KeyError, TypeError):
            activity_id = None
        if not isinstance(activity_id, str):
            raise Unconfirmed(f"the node answered HTTP {resp.status}: {detail}")
        return activity_id
    finally:
        conn.close()
