"""Reading a PDF back the way a reader does, for the PDFs fpdf2 writes: objects,
pages, FlateDecode streams, and the text shown with `Tj`, decoded through each font's
ToUnicode map (an embedded TrueType font) or as Latin-1 (a standard font). No
maintained PDF reader is installed on the machines the suite runs on; this reads only
what a reader needs to find the words, and fails loudly on anything else."""

from __future__ import annotations

import re
import zlib

OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.S)
STREAM = re.compile(rb"^(.*?)stream\r?\n(.*)\r?\nendstream$", re.S)


def objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """number -> (dictionary, decoded stream or None)."""
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for num, body in OBJ.findall(pdf):
        m = STREAM.match(body)
        if m is None:
            out[int(num)] = (body, None)
            continue
        head, data = m.group(1), m.group(2)
        out[int(num)] = (head, zlib.decompress(data) if b"/FlateDecode" in head else data)
    return out


def page_count(pdf: bytes) -> int:
    return sum(1 for head, _ in objects(pdf).values()
               if re.search(rb"/Type\s*/Page\b(?!s)", head))


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:  # backslash
            n = raw[i + 1:i + 2]
            table = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
            if n in table:
                out += table[n]
                i += 2
            elif n.isdigit():
                octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
                assert octal is not None
                out.append(int(octal.group(0), 8))
                i += 1 + len(octal.group(0))
            else:
                out += n
                i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _cmap(data: bytes) -> dict[int, str]:
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for a, b, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>",
                                    block):
            start = int(dst, 16)
            for k, code in enumerate(range(int(a, 16), int(b, 16) + 1)):
                table[code] = chr(start + k)
    return table


def text(pdf: bytes) -> str:
    """Every string the pages show, one line per `Tj`."""
    objs = objects(pdf)
    fonts: dict[bytes, dict[int, str] | None] = {}  # resource name -> ToUnicode (None: Latin-1)
    for head, _ in objs.values():
        for name, ref in re.findall(rb"/(F\d+)\s+(\d+) 0 R", head):
            font_head = objs[int(ref)][0]
            uni = re.search(rb"/ToUnicode\s+(\d+) 0 R", font_head)
            if uni is None:
                fonts[name] = None
                continue
            data = objs[int(uni.group(1))][1]
            assert data is not None
            fonts[name] = _cmap(data)
    lines = []
    for head, data in objs.values():
        if data is None or b"BT" not in data or b"/Type" in head:
            continue
        current: dict[int, str] | None = None
        for op in re.finditer(rb"/(F\d+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj", data, re.S):
            if op.group(1):
                current = fonts[op.group(1)]
                continue
            raw = _unescape(op.group(2))
            if current is None:
                lines.append(raw.decode("latin-1"))
            else:
                lines.append("".join(current.get(int.from_bytes(raw[i:i + 2], "big"), "?")
                                     for i in range(0, len(raw), 2)))
    return "\n".join(lines)
