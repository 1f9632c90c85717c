"""Everything a running node process shares: settings, database, keys, caches.

Built once per process (web or worker); nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from node.config import Settings
from node.federation import keys
from node.federation.directory import ActorDirectory
from node.federation.fetch import Fetcher, make_client
from node.federation.httpsig import Policy, authorities_of
from node.federation.httpsig.sign import sign_cavage
from node.federation.identity import primary_actor
from node.federation.urls import Urls
from node.models import LocalActor, PeerHost
from node.storage.db import make_engine


class NotInitialised(Exception):
    pass


@dataclass
class SigningKey:
    key_id: str
    private: Any


@dataclass
class NodeContext:
    settings: Settings
    engine: Engine
    urls: Urls
    primary: LocalActor
    fetcher: Fetcher
    directory: ActorDirectory
    policy: Policy
    actors: dict[str, LocalActor] = field(default_factory=dict)
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)
    inbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    delivery_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    economy_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _blocked: set[str] = field(default_factory=set)
    _blocked_at: float = 0.0

    def signing_key(self, handle: str) -> SigningKey:
        key = self.signing_keys.get(handle)
        if key is None:
            actor = self.actors[handle]
            private = keys.load_private_pem(actor.rsa_private_pem)
            key = SigningKey(self.urls.main_key(handle), private)
            self.signing_keys[handle] = key
        return key

    def get_signer(self, url: str) -> dict[str, str]:
        key = self.signing_key(self.primary.handle)
        return sign_cavage("GET", url, key.key_id, key.private)

    def is_blocked(self, host: str) -> bool:
        # Blocks are set from the CLI or API in any process; re-read them every few seconds.
        if time.monotonic() - self._blocked_at > 5.0:
            self.refresh_blocks()
        return host.lower() in self._blocked

    def refresh_blocks(self) -> None:
        with Session(self.engine) as s:
            rows = s.exec(select(PeerHost.host).where(PeerHost.blocked == True)).all()  # noqa: E712
        self._blocked = {h.lower() for h in rows}
        self._blocked_at = time.monotonic()

    def reload_actors(self) -> None:
        with Session(self.engine) as s:
            self.actors = {a.handle: a for a in s.exec(select(LocalActor)).all()}


def build_context(settings: Settings, engine: Engine | None = None) -> NodeContext:
    if not settings.is_initialised:
        raise NotInitialised(
            f"{settings.data_dir} holds no node yet: run `comuna init --data-dir "
            f"{settings.data_dir} --url URL --handle NAME --name TEXT --level LEVEL`"
        )
    engine = engine or make_engine(settings.effective_database_url)
    with Session(engine) as s:
        primary = primary_actor(s)
        if primary is None:
            raise NotInitialised("the database has no primary body; run `comuna init`")
        s.expunge(primary)
    urls = Urls(settings.url)
    client = make_client(settings.allow_private_networks, settings.fetch_timeout)
    fetcher = Fetcher(client, settings.fetch_max_bytes, settings.fetch_max_redirects)
    directory = ActorDirectory(engine, fetcher, settings.key_refetch_per_host_per_minute)
    # Signatures must be addressed to this node (its public host, as a trusted proxy
    # forwards it), or a request signed for another server could be replayed here.
    policy = Policy(max_age=settings.max_signature_age, max_ahead=settings.max_signature_skew_ahead,
                    authorities=authorities_of(settings.url))
    ctx = NodeContext(settings, engine, urls, primary, fetcher, directory, policy)
    fetcher.signer = ctx.get_signer
    ctx.reload_actors()
    return ctx
