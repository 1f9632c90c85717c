"""The one way text reaches a picture: every name, number and label goes through
`Markup.format` here, which escapes what it is given; nothing is joined into markup by
hand, so a body called `<script>&"` is drawn as those characters. Also the figure
around a picture and its text alternative."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from markupsafe import Markup

WIDTH = 336  # viewBox units: a 360 px screen less the page's 12 px margins
SIZE = 13  # font size in viewBox units: about 13 px on a phone
CHAR = 0.58  # average glyph width of system-ui, as a share of the font size

# Colours against white, each at least 7:1, and never the only sign: every mark also
# has a word, a line style or a position that says what it is.
INK = "#1a1a1a"
MUTED = "#4d4d4d"
TRACK = "#e6e6e6"
BLUE = "#1f4e79"
ORANGE = "#8a4500"
GREEN = "#1e5b2e"


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _attrs(attrs: dict[str, object]) -> Markup:
    out = Markup("")
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        text = _num(value) if isinstance(value, float | int) and not isinstance(
            value, bool) else str(value)
        out += Markup(' {}="{}"').format(name, text)
    return out


def fit(text: str, width: float, size: float = SIZE) -> str:
    """`text` cut with an ellipsis to what fits in `width` units (the full text is in
    the alternative next to the picture)."""
    most = max(int(width / (size * CHAR)), 1)
    return text if len(text) <= most else text[:max(most - 1, 1)].rstrip() + "…"


class Canvas:
    """An SVG drawing built from parts; `svg()` returns it as markup."""

    def __init__(self, key: str, title: str, desc: str) -> None:
        self.key, self.title, self.desc = key, title, desc
        self.parts: list[Markup] = []
        self.height = 0.0

    def _add(self, tag: str, attrs: dict[str, object], content: str | None = None) -> None:
        if content is None:
            self.parts.append(Markup("<{}{}/>").format(tag, _attrs(attrs)))
        else:
            self.parts.append(Markup("<{}{}>{}</{}>").format(tag, _attrs(attrs), content, tag))

    def rect(self, x: float, y: float, w: float, h: float, **attrs: object) -> None:
        self._add("rect", {"x": x, "y": y, "width": w, "height": h, **attrs})
        self.height = max(self.height, y + h)

    def line(self, x1: float, y1: float, x2: float, y2: float, **attrs: object) -> None:
        self._add("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "stroke": INK, **attrs})
        self.height = max(self.height, y1, y2)

    def text(self, x: float, y: float, content: str, **attrs: object) -> None:
        self._add("text", {"x": x, "y": y, "fill": INK, **attrs}, content)
        self.height = max(self.height, y + SIZE * 0.3)

    def svg(self, bottom: float = 4) -> Markup:
        height = self.height + bottom
        root = _attrs({"xmlns": "http://www.w3.org/2000/svg",
                       "viewBox": f"0 0 {WIDTH} {_num(height)}", "width": "100%",
                       "role": "img", "aria-labelledby": f"{self.key}-t {self.key}-d",
                       "font-family": "system-ui,sans-serif", "font-size": SIZE,
                       "style": "max-width:100%;height:auto;display:block"})
        return Markup('<svg{}><title id="{}-t">{}</title><desc id="{}-d">{}</desc>{}</svg>'
                      ).format(root, self.key, self.title, self.key, self.desc,
                               Markup("").join(self.parts))


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Markup:
    """A small table with the picture's numbers, for screen readers and anyone who
    prefers to read them."""
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(h) for h in headers)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(c)
                                                     for c in row)) for row in rows)
    return Markup('<table class="pic-alt"><caption>{}</caption><thead><tr>{}</tr></thead>'
                  "<tbody>{}</tbody></table>").format(caption, head, body)


def items(lines: Iterable[str]) -> Markup:
    """The alternative as a list, where a table would only have one column."""
    return Markup('<ul class="pic-alt">{}</ul>').format(
        Markup("").join(Markup("<li>{}</li>").format(x) for x in lines))


def figure(key: str, caption: str, picture: Markup | None, alternative: Markup | None,
           empty: str = "") -> Markup:
    """The picture with its caption and its text alternative beside it; with nothing to
    draw, only the caption and `empty` in words (no axes or bars that could be read as
    zeros)."""
    inner = picture + (alternative or Markup("")) if picture is not None \
        else Markup('<p class="pic-empty">{}</p>').format(empty)
    return Markup('<figure class="pic" id="{}"><figcaption>{}</figcaption>{}</figure>'
                  ).format(key, caption, inner)
