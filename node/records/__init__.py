"""What a body keeps and hands out of its own record: the actas (minutes) of its
assemblies and decisions, and exports of its decisions, votes, participation and
ledger. Read-only: it only gathers what governance, federations and the economy
recorded, and applies who may see what."""
