"""`comuna demo`: a small federation on this machine, filled with a story.

Three communes and their communal city, each a real node process with its own data
directory on loopback, driven through the JSON API as any client would: people join,
a commune decides something of its own, a matter of two communes rises to the city
with mandates (and a recall), the city's decision comes back down, goods move around
a three-way barter, and the project bank fills. Then it prints where to look and who
to log in as, and waits for Ctrl-C, after which nothing is left running.

`nodes.py` starts and stops the processes, `client.py` speaks to their API,
`story.py` and `trade.py` tell the story, `run.py` is the command.
"""
