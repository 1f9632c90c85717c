"""Self-government inside a node: bodies, statutes, proposals, votes, decisions."""
