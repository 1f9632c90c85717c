"""A stand-in for another fediverse server: a real HTTP server on loopback that
serves actor documents and records what is posted to its inboxes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.activitypub import keys
from node.activitypub.httpsig.sign import sign_cavage, sign_rfc9421
from node.activitypub.proofs import sign_object


@dataclass
class RemoteActor:
    server: FakeRemote
    name: str
    rsa_key: rsa.RSAPrivateKey
    ed_key: ed25519.Ed25519PrivateKey

    @property
    def uri(self) -> str:
        return f"{self.server.base}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    @property
    def ed_key_id(self) -> str:
        return f"{self.uri}#ed25519-key"

    @property
    def path(self) -> str:
        """Where the fake server serves this actor's document (see `get_failures`)."""
        return f"/users/{self.name}"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "inbox": f"{self.uri}/inbox",
            "endpoints": {"sharedInbox": f"{self.server.base}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.uri,
                          "publicKeyPem": keys.public_pem(self.rsa_key.public_key())},
            "assertionMethod": [{
                "id": self.ed_key_id, "type": "Multikey", "controller": self.uri,
                "publicKeyMultibase": keys.ed25519_multibase(self.ed_key.public_key()),
            }],
        }

    def rotate(self) -> None:
        self.rsa_key = keys.generate_rsa()

    def activity(self, kind: str = "Create", obj: Any = None, n: int | None = None
                 ) -> dict[str, Any]:
        n = n if n is not None else next(self.server.counter)
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.server.base}/activities/{self.name}-{n}",
            "type": kind,
            "actor": self.uri,
            "object": obj if obj is not None else {
                "id": f"{self.server.base}/notes/{self.name}-{n}", "type": "Note",
                "attributedTo": self.uri, "content": f"hola {n}",
            },
        }

    def signed_post(self, url: str, doc: Any, scheme: str = "cavage", alg: str = "",
                    now: float | None = None, body: bytes | None = None,
                    key: Any = None) -> tuple[bytes, dict[str, str]]:
        body = body if body is not None else json.dumps(doc).encode()
        base = {"Content-Type": "application/activity+json"}
        if scheme == "cavage":
            headers = sign_cavage("POST", url, self.key_id, key or self.rsa_key, body=body,
                                  headers=base, now=now)
        else:
            use = key or (self.ed_key if alg == "ed25519" else self.rsa_key)
            kid = self.ed_key_id if alg == "ed25519" else self.key_id
            headers = sign_rfc9421("POST", url, kid, use, alg, body=body, headers=base, now=now)
        headers.pop("Host", None)
        return body, headers

    def prove(self, doc: dict[str, Any]) -> dict[str, Any]:
        return sign_object(doc, self.ed_key, self.ed_key_id)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        remote: FakeRemote = self.server.remote
        remote.gets.append(self.path)
        path = self.path.split("?", 1)[0]
        failure = 503 if remote.down else remote.get_failures.get(path)
        if failure is not None:
            self.send_response(failure)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        redirect = remote.redirects.get(path)
        if redirect:
            self.send_response(302)
            self.send_header("Location", redirect)
            self.end_headers()
            return
        doc = remote.docs.get(path)
        if doc is None:
            for actor in remote.actors.values():
                if path == f"/users/{actor.name}":
                    doc = actor.document()
        if doc is None:
            self.send_response(404)
            self.end_headers()
            return
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/activity+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        remote: FakeRemote = self.server.remote
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status, extra = remote.next_post_status()
        remote.posts.append({"path": self.path, "headers": dict(self.headers.items()),
                             "body": body, "status": status, "at": time.time()})
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class FakeRemote:
    httpd: ThreadingHTTPServer
    actors: dict[str, RemoteActor] = field(default_factory=dict)
    docs: dict[str, Any] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    post_statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    down: bool = False  # every GET answers 503
    # GETs of these paths answer this status until removed (503/429: a blip; 410: gone).
    get_failures: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import itertools

        self.counter = itertools.count(1)

    @property
    def base(self) -> str:
        return f"http://{self.netloc}"

    @property
    def netloc(self) -> str:
        host, port = self.httpd.server_address[:2]
        # An AF_INET server's address is (str, int); bytes only occur for AF_UNIX.
        assert isinstance(host, str)
        return f"{host}:{port}"

    def actor(self, name: str = "alice") -> RemoteActor:
        if name not in self.actors:
            self.actors[name] = RemoteActor(self, name, keys.generate_rsa(),
                                            keys.generate_ed25519())
        return self.actors[name]

    def next_post_status(self) -> tuple[int, dict[str, str]]:
        if self.post_statuses:
            return self.post_statuses.pop(0)
        return 202, {}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_fake_remote(host: str = "127.0.0.1") -> FakeRemote:
    httpd = ThreadingHTTPServer((host, 0), _Handler)
    remote = FakeRemote(httpd)
    httpd.remote = remote  # type: ignore[attr-defined]
    # A short poll: `close()` waits for the loop to notice, once per test that uses it.
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    return remote
