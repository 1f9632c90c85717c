"""The communal economy: enterprises, surplus offers and needs, barter matching,
agreements and deliveries (ValueFlows vocabulary, FEP-0837 on the wire)."""
