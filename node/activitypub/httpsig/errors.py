class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or does not verify.

    The message is safe to send back to the peer: it names the rule, never key material.
    """

    status = 401


class WrongAuthority(SignatureError):
    """The signature names another server as the request's destination (`host` or
    `@authority`): a request signed for someone else, replayed here."""
