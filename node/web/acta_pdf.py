"""The acta as a PDF, written with fpdf2 (pure Python; imported only when a PDF is
asked for, so a node that never prints keeps it out of memory).

Spanish needs letters beyond ASCII (ñ, á, ¿, «»). fpdf2 bundles no TrueType font, so
the DejaVu Sans of the machine is embedded when there is one (Debian and Ubuntu ship
it with `fonts-dejavu-core`, most desktops have it): it covers every letter people
type. Without it the PDF uses the PDF standard font Helvetica, which reads only
Latin-1: all of Spanish, but a name in another script becomes "?"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.web.acta_view import Doc, Section

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"))
PAPER = {"a4": "A4", "letter": "Letter"}
# Typographic marks outside Latin-1 that have a plain equivalent.
PLAIN = str.maketrans({"…": "...", "—": "-", "–": "-", "“": '"', "”": '"',
                       "\u2018": "'", "\u2019": "'", "•": "·", "\u00a0": " "})


def unicode_font() -> tuple[Path, Path] | None:
    """DejaVu Sans (regular, bold) if the machine has it."""
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def latin1(text: str) -> str:
    return text.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")


def render(doc: Doc, lang: str = "es", paper: str = "a4",
           font: tuple[Path, Path] | bool | None = True) -> bytes:
    """`font=True` finds DejaVu Sans; None (or False) forces Helvetica."""
    from fpdf import FPDF

    found = unicode_font() if font is True else (font or None)
    fix = (lambda s: s) if found else latin1
    footer_text = fix(doc.footer)

    class Acta(FPDF):  # type: ignore[misc]
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(family, "", 8)
            self.cell(0, 8, f"{footer_text} · {self.page_no()}/{{nb}}", align="C")

    pdf = Acta(format=PAPER.get(paper, "A4"))
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    if found:
        pdf.add_font("DejaVu", "", str(found[0]))
        pdf.add_font("DejaVu", "B", str(found[1]))
        family = "DejaVu"
    else:
        family = "Helvetica"
    pdf.set_title(fix(doc.title))
    pdf.set_author(fix(doc.body_name))
    pdf.set_creator("Comuna")
    pdf.set_lang(lang)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: float = 10, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(width, size * 0.5, fix(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para(doc.body_name, 10)
    para(doc.title, 15, "B", 3)
    for line in doc.lines:
        para(line, 10, "", 1)
    for part in doc.parts:
        if part.new_page:
            pdf.add_page()
        if part.heading:
            para(part.heading, 13, "B", 2)
        for section in part.sections:
            _section(pdf, section, para, family, fix)
    out: Any = pdf.output()
    return bytes(out)


def _section(pdf: Any, s: Section, para: Any, family: str, fix: Any) -> None:
    pdf.ln(2)
    para(s.heading, 11.5, "B", 1)
    for line in s.lines:
        para(line)
    for words, href in s.links:
        para(f"{words}: {href}")
    if s.text:
        para(s.text, 10, "", 2)
    if s.table:
        pdf.set_font(family, "", 9)
        with pdf.table(first_row_as_headings=True, line_height=5) as table:
            for row in s.table:
                cells = table.row()
                for value in row:
                    cells.cell(fix(value))
        pdf.ln(2)
    if s.code:
        # A fingerprint is read character by character: in two halves, never hyphenated.
        half = len(s.code) // 2
        para(s.code[:half], 8, "", 0)
        para(s.code[half:], 8, "", 1)
