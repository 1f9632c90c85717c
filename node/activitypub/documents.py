"""ActivityStreams and discovery documents this node serves."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from node.activitypub.text import as_html
from node.activitypub.urls import Urls
from node.models import LocalActor

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_V1 = "https://w3id.org/security/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DATA_INTEGRITY_V1 = "https://w3id.org/security/data-integrity/v1"
AP_CONTENT_TYPE = "application/activity+json"
SOFTWARE_VERSION = "0.1.0"


@lru_cache(maxsize=1)
def comuna_context() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parent / "comuna-context.jsonld").read_text("utf-8")
    )
    return data


def actor_context() -> list[Any]:
    # Our own terms are inlined so that no peer has to fetch our context to read them;
    # the same definitions are served at /ns/comuna/v1.
    return [
        AS_CONTEXT,
        SECURITY_V1,
        MULTIKEY_V1,
        {
            "assertionMethod": {
                "@id": "https://w3id.org/security#assertionMethod",
                "@type": "@id",
                "@container": "@set",
            },
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "memberOf": {"@id": "comuna:memberOf", "@type": "@id", "@container": "@set"},
            "members": {"@id": "comuna:members", "@type": "@id"},
            **comuna_context()["@context"],
        },
    ]


def actor_document(actor: LocalActor, urls: Urls,
                   member_of: list[str] | None = None) -> dict[str, Any]:
    h = actor.handle
    uri = urls.actor(h)
    return {
        "@context": actor_context(),
        "id": uri,
        "type": actor.actor_type,
        "preferredUsername": h,
        "name": actor.name,
        # Typed as plain text; peers read summary as HTML.
        "summary": as_html(actor.summary),
        "url": uri,
        "inbox": urls.inbox(h),
        "outbox": urls.outbox(h),
        "followers": urls.followers(h),
        "following": urls.following(h),
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": False,
        # A private body's actor is served for its keys, not offered to be found.
        "discoverable": actor.public,
        "level": actor.level,
        "memberOf": member_of or [],
        "members": f"{uri}/members",
        "publicKey": {
            "id": urls.main_key(h),
            "owner": uri,
            "publicKeyPem": actor.rsa_public_pem,
        },
        "assertionMethod": [
            {
                "id": urls.ed25519_key(h),
                "type": "Multikey",
                "controller": uri,
                "publicKeyMultibase": actor.ed25519_public_multibase,
            }
        ],
    }


def webfinger(actor: LocalActor, urls: Urls, host: str) -> dict[str, Any]:
    uri = urls.actor(actor.handle)
    return {
        "subject": f"acct:{actor.handle}@{host}",
        "aliases": [uri],
        "links": [
            {"rel": "self", "type": AP_CONTENT_TYPE, "href": uri},
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": uri},
        ],
    }


def nodeinfo_discovery(urls: Urls) -> dict[str, Any]:
    return {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": f"{urls.base}/nodeinfo/2.1",
            }
        ]
    }


def nodeinfo(primary: LocalActor, bodies: int, posts: int) -> dict[str, Any]:
    return {
        "version": "2.1",
        "software": {
            "name": "comuna",
            "version": SOFTWARE_VERSION,
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": bodies}, "localPosts": posts},
        "metadata": {"nodeName": primary.name, "level": primary.level,
                     "primaryBody": primary.handle},
    }
