"""A statement as PDF, written page by page while its lines are read.

ReportLab's canvas keeps every page of a document in memory until it saves
(about 24 KB a page, so half a gigabyte for a month of a million lines), so
the pages are written here by a small PDF writer instead, with ReportLab's
font metrics for the layout: each page is compressed and handed on as soon
as it is full, and only the objects' byte offsets are kept for the
cross-reference table at the end. Latin text is set in Helvetica; any other
text (Japanese names, lines and reasons) in the Adobe-Japan1 CID font
HeiseiKakuGo-W5, which PDF readers supply themselves, as ReportLab's own
CID fonts work.
"""

from __future__ import annotations

import datetime as dt
import functools
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase._cidfontdata import CIDFontInfo
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from sqlalchemy.orm import Session

from voicehub.ledger.service import next_period
from voicehub.ledger.tables import PartyKind
from voicehub.metering.currency import format_micros, format_minor
from voicehub.metering.statements import (
    CurrencySummary,
    LineRow,
    Statement,
    Subtotal,
    grouped,
    line_rows,
    seconds,
)

PAGE_WIDTH, PAGE_HEIGHT = 841.89, 595.28  # A4 landscape, in points
MARGIN = 28.0
CID_FONT = "HeiseiKakuGo-W5"
# Font resource names in every page: regular, bold, and the CID font for other scripts.
_REGULAR, _BOLD, _CID = "F1", "F2", "F3"
_BASE = {_REGULAR: "Helvetica", _BOLD: "Helvetica-Bold", _CID: CID_FONT}

TABLE_SIZE = 6.0
ROW_HEIGHT = 8.6
GAP = 5.0
FOOTER_Y = MARGIN - 12
BOTTOM = MARGIN + 4


@functools.cache
def _cid_font_ready() -> bool:
    """Register the CID font with ReportLab (for its metrics) the first time a PDF is made."""
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return True


def _latin(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


_ESCAPES = str.maketrans({"\\": "\\\\", "(": "\\(", ")": "\\)", "\r": " ", "\n": " "})


def _runs(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    """`text` as runs of (font resource, PDF string operand): Latin pieces in Helvetica, the
    rest (Japanese, say) in the CID font, so each script is set in a face made for it."""
    if text.isascii():
        return ((_BOLD if bold else _REGULAR, "(" + text.translate(_ESCAPES) + ")"),)
    return _mixed_runs(text, bold)


@functools.lru_cache(maxsize=8192)
def _mixed_runs(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    return tuple((font, _operand(font, piece)) for font, piece in _pieces(text, bold))


@functools.lru_cache(maxsize=8192)
def _pieces(text: str, bold: bool) -> tuple[tuple[str, str], ...]:
    """(font resource, piece) runs of a text that is not all ASCII. Names and lines repeat
    down a statement, hence the cache."""
    latin_font = _BOLD if bold else _REGULAR
    if _latin(text):
        return ((latin_font, text),)
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = latin_font if _latin(ch) else _CID
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return tuple(runs)


def _operand(font: str, piece: str) -> str:
    """A PDF string of `piece` in `font`'s encoding."""
    if font != _CID:
        return "(" + piece.translate(_ESCAPES) + ")"
    # UniJIS-UCS2-H takes UTF-16BE code units of the Basic Multilingual Plane.
    bmp = "".join(ch if ord(ch) < 0x10000 and ch.isprintable() else "?" for ch in piece)
    return "<" + bmp.encode("utf-16-be").hex() + ">"


@functools.cache
def _winansi_widths(bold: bool) -> tuple[int, ...]:
    """Helvetica's advance widths (per 1000 em) by WinAnsi code."""
    return tuple(pdfmetrics.getFont(_BASE[_BOLD if bold else _REGULAR]).widths)


def _width(text: str, bold: bool, size: float) -> float:
    """The width of `text` in points. Every cell of every line is measured, so Latin text is
    summed from the font's width table directly rather than through ReportLab's general
    (and in pure Python, slow) `stringWidth`."""
    if text.isascii():
        return sum(map(_winansi_widths(bold).__getitem__, text.encode("ascii"))) * size / 1000
    return _mixed_width(text, bold, size)


@functools.lru_cache(maxsize=8192)
def _mixed_width(text: str, bold: bool, size: float) -> float:
    return sum(
        float(pdfmetrics.stringWidth(piece, _BASE[font], size))
        for font, piece in _pieces(text, bold)
    )


def _fit(text: str, width: float, bold: bool, size: float) -> str:
    """`text`, cut short with an ellipsis where it would overrun `width`."""
    if len(text) * size * 1.02 <= width or _width(text, bold, size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(text[:middle] + "…", bold, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"


def _wrap(text: str, width: float, bold: bool, size: float) -> list[str]:
    """Greedy word wrap; a word (or unspaced Japanese) longer than a line is broken anywhere."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if _width(candidate, bold, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for ch in word:
            if current and _width(current + ch, bold, size) > width:
                lines.append(current)
                current = ""
            current += ch
    if current:
        lines.append(current)
    return lines or [""]


def _pdf_text(text: str) -> str:
    """A document-information string: PDFDocEncoding-safe ASCII, else UTF-16BE with a BOM."""
    if text.isascii():
        return "(" + text.translate(_ESCAPES) + ")"
    return "<feff" + text.encode("utf-16-be").hex() + ">"


def _money(amount_micros: int) -> str:
    return grouped(format_micros(amount_micros))


def _minor(amount_minor: int, currency: str) -> str:
    return f"{grouped(format_minor(amount_minor, currency))} {currency}"


def _rate(row: LineRow) -> str:
    if row.rate_micros is None:
        return ""
    unit = "/ s" if row.price_unit == "second" else "/ 1k chars"
    return f"{_money(row.rate_micros)} {unit}"


def _duration(audio_ms: int) -> str:
    """Audio time for a person: 1:23:45.678, or 45.678 s."""
    total_seconds, ms = divmod(audio_ms, 1000)
    hours, rest = divmod(total_seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{ms:03d}"
    if minutes:
        return f"{minutes}:{secs:02d}.{ms:03d}"
    return f"{secs}.{ms:03d} s"


def _cell(
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    bold: bool = False,
    width: float | None = None,
    right: bool = False,
    squeeze: bool = False,
) -> str:
    """The operators (inside BT … ET) that set `text` at (x, y): cut short to `width`, or
    with `squeeze` set narrower instead, and right-aligned in it with `right`."""
    if not text:
        return ""
    scale = ""
    if width is not None and squeeze:
        natural = _width(text, bold, size)
        if natural > width:
            # Horizontal scaling is text state that outlives ET: set back after the text.
            scale = f"{100 * width / natural:.1f} Tz "
    elif width is not None:
        text = _fit(text, width, bold, size)
    if right and width is not None and not scale:
        x += width - _width(text, bold, size)
    # Each Tj moves the pen on by its own width, so the runs follow one another.
    shown = " ".join(f"/{font} {size:g} Tf {operand} Tj" for font, operand in _runs(text, bold))
    return f"{scale}1 0 0 1 {x:.2f} {y:.2f} Tm {shown}" + (" 100 Tz" if scale else "")


class _PdfFile:
    """The byte layout of a PDF written front to back: object numbers, offsets, the xref."""

    def __init__(self) -> None:
        self.offset = 0
        self.offsets: dict[int, int] = {}
        self.last = 0

    def allocate(self) -> int:
        self.last += 1
        return self.last

    def emit(self, data: bytes) -> bytes:
        self.offset += len(data)
        return data

    def object(self, number: int, body: str | bytes) -> bytes:
        self.offsets[number] = self.offset
        raw = body.encode("latin-1") if isinstance(body, str) else body
        return self.emit(b"%d 0 obj\n" % number + raw + b"\nendobj\n")

    def stream(self, number: int, content: bytes, dictionary: str = "") -> bytes:
        packed = zlib.compress(content, 6)
        head = f"<< {dictionary} /Filter /FlateDecode /Length {len(packed)} >>\nstream\n"
        return self.object(number, head.encode("latin-1") + packed + b"\nendstream")

    def xref(self, root: int, info: int) -> Iterator[bytes]:
        start = self.offset
        yield self.emit(b"xref\n0 %d\n0000000000 65535 f \n" % (self.last + 1))
        numbers = range(1, self.last + 1)
        for first in range(0, len(numbers), 4096):
            chunk = numbers[first : first + 4096]
            yield self.emit(b"".join(b"%010d 00000 n \n" % self.offsets[n] for n in chunk))
        yield self.emit(
            f"trailer\n<< /Size {self.last + 1} /Root {root} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{start}\n%%EOF\n".encode("latin-1")
        )


def _cid_font_object() -> str:
    """The Type 0 font dictionary for the CID font, from ReportLab's own description of it."""

    def value(item: object) -> str:
        if isinstance(item, dict):
            return "<< " + " ".join(f"/{k} {value(v)}" for k, v in item.items()) + " >>"
        if isinstance(item, list | tuple):
            return "[ " + " ".join(value(v) for v in item) + " ]"
        return str(item)

    descendant = value(CIDFontInfo[CID_FONT]["DescendantFonts"][0])
    return (
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{CID_FONT}-UniJIS-UCS2-H "
        f"/Encoding /UniJIS-UCS2-H /DescendantFonts [ {descendant} ] >>"
    )


@dataclass(frozen=True)
class _Column:
    title: str
    width: float
    right: bool = False
    # Ids are never cut short: one too wide for the column is set narrower instead.
    squeeze: bool = False


_ACTOR_LINES = (
    _Column("Date (UTC)", 48),
    _Column("Studio", 62),
    _Column("Project", 62),
    _Column("Cut", 30),
    _Column("Line id", 86, squeeze=True),
    _Column("Line", 120),
    _Column("Chars", 28, True),
    _Column("Seconds", 32, True),
    _Column("Use", 42),
    _Column("Rate", 78, True),
    _Column("Amount", 64, True),
    _Column("Royalty", 64, True),
)
_STUDIO_LINES = (
    _Column("Date (UTC)", 48),
    _Column("Project", 66),
    _Column("Cut", 30),
    _Column("Line id", 86, squeeze=True),
    _Column("Line", 116),
    _Column("Voice", 60),
    _Column("Actor credit", 60),
    _Column("Chars", 28, True),
    _Column("Seconds", 32, True),
    _Column("Use", 42),
    _Column("Rate", 78, True),
    _Column("Amount", 64, True),
)


class _Document:
    """Lays a statement out on pages and hands each page on, as PDF bytes, once it is full."""

    def __init__(self, statement: Statement, created: dt.datetime) -> None:
        _cid_font_ready()
        self.statement = statement
        self.actor = statement.party.kind is PartyKind.ACTOR
        self.created = created
        self.file = _PdfFile()
        self.catalog, self.pages, self.resources, self.total, self.info = (
            self.file.allocate() for _ in range(5)
        )
        self.fonts = {name: self.file.allocate() for name in _BASE}
        self.page_ids: list[int] = []
        self.ops: list[str] = []
        self.y = 0.0
        self.header: tuple[str, Sequence[_Column]] | None = None
        self.section: tuple[str, str] | None = None
        self.shade = False

    # ---- drawing ----

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        width: float | None = None,
        right: bool = False,
        gray: float = 0.0,
    ) -> None:
        shown = _cell(x, y, text, size, bold=bold, width=width, right=right)
        if shown:
            color, reset = (f"{gray:g} g ", " 0 g") if gray else ("", "")
            self.ops.append(f"BT {color}{shown} ET{reset}\n")

    def box(self, x: float, y: float, width: float, height: float, fill: float) -> None:
        self.ops.append(f"{fill:g} g {x:.2f} {y:.2f} {width:.2f} {height:.2f} re f 0 g\n")

    def rule(self, y: float, gray: float = 0.6) -> None:
        self.ops.append(
            f"{gray:g} G 0.4 w {MARGIN:.2f} {y:.2f} m {PAGE_WIDTH - MARGIN:.2f} {y:.2f} l S 0 G\n"
        )

    # ---- pages ----

    def start(self) -> bytes:
        file = self.file
        out = [file.emit(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")]
        for name, number in self.fonts.items():
            if name == _CID:
                out.append(file.object(number, _cid_font_object()))
            else:
                out.append(
                    file.object(
                        number,
                        f"<< /Type /Font /Subtype /Type1 /BaseFont /{_BASE[name]} "
                        f"/Encoding /WinAnsiEncoding >>",
                    )
                )
        fonts = " ".join(f"/{name} {number} 0 R" for name, number in self.fonts.items())
        out.append(
            file.object(
                self.resources,
                f"<< /Font << {fonts} >> /XObject << /Total {self.total} 0 R >> >>",
            )
        )
        self.new_page()
        return b"".join(out)

    def new_page(self) -> None:
        self.ops = []
        self.y = PAGE_HEIGHT - MARGIN
        self.shade = False
        if len(self.page_ids) > 0:
            self.running_head()
        if self.header is not None:
            self.table_header(*self.header)

    def finish_page(self) -> bytes:
        statement = self.statement
        page = len(self.page_ids) + 1
        self.rule(FOOTER_Y + 8, 0.8)
        self.text(
            MARGIN,
            FOOTER_Y,
            f"VoiceHub {statement.title.lower()} · {statement.party.name} · {statement.period}"
            + (" · provisional" if statement.provisional else ""),
            6.5,
            width=500,
            gray=0.35,
        )
        label = f"Page {page} of "
        x = PAGE_WIDTH - MARGIN - 70
        self.text(x, FOOTER_Y, label, 6.5, gray=0.35)
        self.ops.append(
            f"q 1 0 0 1 {x + _width(label, False, 6.5):.2f} {FOOTER_Y:.2f} cm /Total Do Q\n"
        )
        content, page_id = self.file.allocate(), self.file.allocate()
        self.page_ids.append(page_id)
        # Helvetica's strings are WinAnsi (cp1252) bytes; everything else in a page is ASCII.
        data = self.file.stream(content, "".join(self.ops).encode("cp1252"))
        data += self.file.object(
            page_id,
            f"<< /Type /Page /Parent {self.pages} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Resources {self.resources} 0 R /Contents {content} 0 R >>",
        )
        return data

    def need(self, height: float) -> bytes:
        """Room for `height` more points on this page: a new page (and the old one's bytes) if not."""
        if self.y - height >= BOTTOM:
            return b""
        data = self.finish_page()
        self.new_page()
        return data

    def close(self) -> Iterator[bytes]:
        yield self.finish_page()
        file = self.file
        kids = " ".join(f"{n} 0 R" for n in self.page_ids)
        yield file.object(
            self.pages, f"<< /Type /Pages /Kids [ {kids} ] /Count {len(self.page_ids)} >>"
        )
        total = f"BT /{_REGULAR} 6.5 Tf 0.35 g 0 0 Td ({len(self.page_ids)}) Tj ET".encode()
        yield file.stream(
            self.total,
            total,
            f"/Type /XObject /Subtype /Form /BBox [0 -2 60 8] /Resources {self.resources} 0 R",
        )
        yield file.object(self.catalog, f"<< /Type /Catalog /Pages {self.pages} 0 R >>")
        statement = self.statement
        title = f"{statement.title}, {statement.period}, {statement.party.name}"
        yield file.object(
            self.info,
            f"<< /Title {_pdf_text(title)} /Producer (VoiceHub) /Creator (VoiceHub) "
            f"/CreationDate (D:{self.created.astimezone(dt.UTC):%Y%m%d%H%M%S}Z) >>",
        )
        yield from file.xref(self.catalog, self.info)

    # ---- the statement ----

    def running_head(self) -> None:
        statement = self.statement
        self.text(
            MARGIN,
            self.y - 8,
            f"{statement.title} · {statement.party.name} · {statement.period} (continued)",
            7,
            gray=0.35,
            width=PAGE_WIDTH - 2 * MARGIN,
        )
        self.y -= 16

    def title_block(self) -> None:
        statement = self.statement
        top = self.y
        self.text(MARGIN, top - 14, f"VoiceHub {statement.title.lower()}", 15, bold=True)
        who = "Actor" if self.actor else "Studio"
        self.text(
            MARGIN,
            top - 30,
            f"{who}: {statement.party.name}",
            10,
            bold=True,
            width=480,
        )
        self.text(MARGIN, top - 41, f"{who} id: {statement.party.id}", 7.5, gray=0.3)
        right = PAGE_WIDTH - MARGIN - 230
        self.text(right, top - 14, f"Period: {statement.period} (calendar month, UTC)", 9)
        if statement.provisional:
            state = "Open: provisional figures, final once the month closes"
        else:
            closed = statement.closed_at
            state = f"Closed {closed:%Y-%m-%d %H:%M} UTC" if closed else "Closed"
        self.text(right, top - 26, state, 8, bold=statement.provisional, width=230)
        currencies = ", ".join(c.currency for c in statement.currencies) or "none"
        self.text(right, top - 38, f"Currency: {currencies}", 8, width=230)
        self.y = top - 52
        self.rule(self.y)
        self.y -= 8

    def summary_box(self, c: CurrencySummary) -> Iterator[bytes]:
        currency = c.currency
        payable = "Total payable" if self.actor else "Amount invoiced"
        status = "Payout status" if self.actor else "Invoice status"
        period_label = "This month's royalty" if self.actor else "This month's usage"
        used = "on lines used" if self.actor else "for lines used"
        carried = (
            f"{_money(c.carried_in_micros)} {currency} carried in from {c.carried_in_from}"
            if c.carried_in_from
            else f"nothing carried in ({_money(c.carried_in_micros)} {currency})"
        )
        carried += (
            f"; {_money(c.carried_out_micros)} {currency} carried to "
            f"{next_period(self.statement.period)} (less than one minor unit, never lost)"
        )
        rows = [
            (status, c.settlement.note),
            ("Carried remainder", carried),
            (
                period_label,
                f"{_money(c.accrued_micros)} {currency} = {_money(c.lines_micros)} {used}, "
                f"{_money(c.adjustments_micros)} in refunds and corrections",
            ),
            (
                "Total",
                f"{_money(c.total_micros)} {currency} = this month + carried in; "
                f"{_minor(c.payable_minor, currency)} in whole units",
            ),
            (
                "Lines used",
                f"{c.lines:,} lines · {c.characters:,} characters · "
                f"{_duration(c.audio_ms)} of audio"
                + (
                    f" · studios paid {_money(c.gross_micros)} {currency} for them"
                    if self.actor
                    else ""
                ),
            ),
        ]
        label_width, inner = 110.0, PAGE_WIDTH - 2 * MARGIN - 16
        wrapped = [(label, _wrap(value, inner - label_width, False, 8)) for label, value in rows]
        height = 34 + sum(10 * len(lines) + 2 for _, lines in wrapped)
        yield self.need(height + 8)
        top = self.y
        self.box(MARGIN, top - height, PAGE_WIDTH - 2 * MARGIN, height, 0.94)
        x = MARGIN + 8
        self.text(x, top - 20, payable, 11, bold=True)
        self.text(x + label_width, top - 21, _minor(c.payable_minor, currency), 15, bold=True)
        if self.statement.provisional:
            self.text(x + 330, top - 20, "provisional: the month is still open", 8, gray=0.3)
        y = top - 36
        for label, lines in wrapped:
            self.text(x, y, label, 8, bold=True)
            for line in lines:
                self.text(x + label_width, y, line, 8)
                y -= 10
            y -= 2
        self.y = top - height - 10

    def heading(self, text: str) -> Iterator[bytes]:
        yield self.need(40)
        self.y -= 6
        self.text(MARGIN, self.y - 10, text, 10, bold=True)
        self.y -= 16

    def table_header(self, _: str, columns: Sequence[_Column]) -> None:
        x = MARGIN
        for column in columns:
            self.text(
                x,
                self.y - 8,
                column.title,
                TABLE_SIZE,
                bold=True,
                width=column.width,
                right=column.right,
            )
            x += column.width + GAP
        self.y -= 11
        self.rule(self.y + 1, 0.5)
        self.y -= 1

    def table_row(
        self, columns: Sequence[_Column], cells: Sequence[str], bold: bool = False
    ) -> None:
        if self.shade:
            self.box(MARGIN, self.y - ROW_HEIGHT + 0.5, PAGE_WIDTH - 2 * MARGIN, ROW_HEIGHT, 0.95)
        self.shade = not self.shade
        x, y = MARGIN, self.y - ROW_HEIGHT + 2.4
        shown = []
        for column, cell in zip(columns, cells, strict=True):
            if cell:
                shown.append(
                    _cell(
                        x,
                        y,
                        cell,
                        TABLE_SIZE,
                        bold=bold,
                        width=column.width,
                        right=column.right,
                        squeeze=column.squeeze,
                    )
                )
            x += column.width + GAP
        # One text object per row: a million-line statement is a million of these.
        self.ops.append("BT " + " ".join(shown) + " ET\n")
        self.y -= ROW_HEIGHT

    def start_table(self, title: str, columns: Sequence[_Column]) -> Iterator[bytes]:
        yield from self.heading(title)
        yield self.need(ROW_HEIGHT * 3)
        self.header = (title, columns)
        self.shade = False
        self.table_header(title, columns)

    def subtotals(self, c: CurrencySummary) -> Iterator[bytes]:
        if not c.subtotals:
            return
        name = "Studio / project" if self.actor else "Project"
        share = "Royalty on lines" if self.actor else "Amount of lines"
        columns = (
            _Column(name, 250),
            _Column("Lines", 50, True),
            _Column("Characters", 60, True),
            _Column("Audio (s)", 60, True),
            *([_Column("Studios paid", 80, True)] if self.actor else []),
            _Column(share, 80, True),
            _Column("Refunds, corrections", 80, True),
            _Column("Net", 80, True),
        )
        yield from self.start_table(f"Subtotals — {c.currency}", columns)
        for s in c.subtotals:
            yield self.need(ROW_HEIGHT)
            self.table_row(columns, self.subtotal_cells(s), bold=s.level == "studio")
        self.header = None
        self.y -= 6

    def subtotal_cells(self, s: Subtotal) -> list[str]:
        if s.level in ("studio", "unattributed"):
            name = s.studio
        else:
            name = f"    {s.project}" if self.actor else s.project
        paid = [_money(s.amount_micros)] if self.actor else []
        return [
            name,
            f"{s.lines:,}",
            f"{s.characters:,}",
            seconds(s.audio_ms),
            *paid,
            _money(s.lines_micros),
            _money(s.adjustments_micros),
            _money(s.net_micros),
        ]

    def line(self, row: LineRow) -> bytes:
        """One row of the line table; a page's bytes when this row started a new page."""
        out = b""
        section = (row.currency, "lines" if row.record == "line" else "adjustments")
        columns = _ACTOR_LINES if self.actor else _STUDIO_LINES
        if section != self.section:
            self.section = section
            title = (
                f"Lines used — {row.currency}"
                if section[1] == "lines"
                else f"Refunds and corrections — {row.currency}"
            )
            out += b"".join(self.start_table(title, columns))
        out += self.need(ROW_HEIGHT)
        text = row.text if row.record == "line" else f"{row.record.capitalize()}: {row.note}"
        date = row.date.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
        quantity = [
            f"{row.characters:,}" if row.lines else "",
            seconds(row.audio_ms) if row.lines else "",
            row.use,
            _rate(row),
        ]
        if self.actor:
            cells = [date, row.studio, row.project, row.cut, row.line_id, text, *quantity]
            cells += [
                "" if row.amount_micros is None else _money(row.amount_micros),
                _money(row.party_micros),
            ]
        else:
            cells = [date, row.project, row.cut, row.line_id, text, row.voice, row.actor]
            cells += [*quantity, _money(row.party_micros)]
        self.table_row(columns, cells)
        return out

    def nothing(self) -> Iterator[bytes]:
        yield self.need(40)
        self.box(MARGIN, self.y - 30, PAGE_WIDTH - 2 * MARGIN, 30, 0.94)
        who = "No lines used and nothing payable" if self.actor else "No lines used and nothing due"
        self.text(MARGIN + 8, self.y - 19, f"{who} in {self.statement.period}.", 11, bold=True)
        self.y -= 40


def statement_pdf(
    session: Session, statement: Statement, *, created: dt.datetime | None = None
) -> Iterator[bytes]:
    """The statement as PDF bytes, chunk by chunk: the summary box of each currency first
    (total payable, carried remainder, payout or invoice status), then the subtotals, then
    every line and adjustment, with the column heads repeated on each page."""
    return (chunk for chunk in _pdf_chunks(session, statement, created) if chunk)


def _pdf_chunks(
    session: Session, statement: Statement, created: dt.datetime | None
) -> Iterator[bytes]:
    created = created or statement.closed_at or dt.datetime.now(dt.UTC)
    document = _Document(statement, created)
    yield document.start()
    document.title_block()
    if not statement.currencies:
        yield from document.nothing()
    for summary in statement.currencies:
        yield from document.summary_box(summary)
    for summary in statement.currencies:
        yield from document.subtotals(summary)
    pending: list[bytes] = []
    for row in line_rows(session, statement):
        page = document.line(row)
        if page:
            pending.append(page)
            if len(pending) >= 8:
                yield b"".join(pending)
                pending.clear()
    yield b"".join(pending)
    yield from document.close()
