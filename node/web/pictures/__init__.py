"""Pictures drawn on the server as inline SVG, for people who would rather look than
read: the federation tree around a body and where a matter stands on it, participation
over time, goods moving between bodies and a body's ledger.

Each module draws one picture from data the domain packages read; none decides
anything. Every picture comes with a title, a description and a text alternative (a
table or a list) next to it, fits a 360 px screen (a 336-unit wide viewBox drawn at
width 100 %), never tells anything by colour alone, and says in words when there is
nothing to draw yet. Text only reaches the SVG through `svg.Canvas`, which escapes it."""
