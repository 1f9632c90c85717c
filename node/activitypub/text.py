"""Plain text as the HTML that ActivityStreams carries in `content` and `summary`.

What people type here is plain text (the pages show it escaped); other servers read
those fields as HTML. Escaped, with paragraphs and line breaks kept, so a peer shows
what was typed and never runs markup someone typed."""

from __future__ import annotations

import html


def as_html(text: str) -> str:
    """Paragraphs (blank-line separated) as <p>, single newlines as <br>, all escaped;
    empty text stays empty."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p.strip()).replace(chr(10), '<br>')}</p>"
                   for p in paragraphs)
