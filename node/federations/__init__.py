"""Federations of bodies: membership, the federation graph, and where a matter is decided.

Importing the package registers member bodies as an electorate with governance."""

from node.federations import electorate as _electorate  # noqa: F401  (registers it)
