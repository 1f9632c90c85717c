"""HTTP message signatures: draft-cavage-12 (as Mastodon uses it) and RFC 9421.

Verification is split in two steps so that a server can look up the key
asynchronously in between: `prepare()` parses and checks policy without any key,
then `PreparedSignature.verify(key)` does the cryptography and returns the key id.
"""

from node.activitypub.httpsig.errors import SignatureError, WrongAuthority
from node.activitypub.httpsig.message import Headers, HttpMessage
from node.activitypub.httpsig.prepare import Policy, PreparedSignature, authorities_of, prepare

__all__ = ["Headers", "HttpMessage", "Policy", "PreparedSignature", "SignatureError",
           "WrongAuthority", "authorities_of", "prepare"]
