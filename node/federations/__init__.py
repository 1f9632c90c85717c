"""Federations of bodies: membership, the federation graph, and where a matter is decided."""
