"""Where things live on a node. One place, so ids never drift apart."""

from __future__ import annotations

from dataclasses import dataclass

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@dataclass(frozen=True)
class Urls:
    base: str

    def actor(self, handle: str) -> str:
        return f"{self.base}/actors/{handle}"

    def main_key(self, handle: str) -> str:
        return f"{self.actor(handle)}#main-key"

    def ed25519_key(self, handle: str) -> str:
        return f"{self.actor(handle)}#ed25519-key"

    def inbox(self, handle: str) -> str:
        return f"{self.actor(handle)}/inbox"

    def outbox(self, handle: str) -> str:
        return f"{self.actor(handle)}/outbox"

    def followers(self, handle: str) -> str:
        return f"{self.actor(handle)}/followers"

    def following(self, handle: str) -> str:
        return f"{self.actor(handle)}/following"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def context(self) -> str:
        return f"{self.base}/ns/comuna/v1"

    def activity(self, uid: str) -> str:
        return f"{self.base}/activities/{uid}"

    def obj(self, uid: str) -> str:
        return f"{self.base}/objects/{uid}"

    def handle_of_actor(self, uri: str) -> str | None:
        prefix = f"{self.base}/actors/"
        if uri.startswith(prefix):
            rest = uri[len(prefix):]
            if rest and "/" not in rest and "#" not in rest:
                return rest
        return None
