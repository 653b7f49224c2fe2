"""PDF rendering with fpdf2 (pure Python), from the same localized views as the HTML.

Fonts: PDFs embed TrueType fonts. DejaVu Sans (Debian ``fonts-dejavu-core``) covers Latin,
Greek, Cyrillic and the euro sign; Japanese needs a CJK font, found in this order: Noto Sans
CJK (``fonts-noto-cjk``), IPA Gothic (``fonts-ipafont-gothic``), Droid Sans Fallback. A
document whose text has a character no available font covers raises
:class:`~lms_billing.errors.ConfigurationError` instead of printing empty boxes ("tofu").
Pass explicit paths with :class:`FontSet` when fonts live elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF

from lms_billing.errors import ConfigurationError
from lms_billing.rendering._renderer import DocumentRenderer
from lms_billing.rendering.context import DocumentView, LineView, PartyView

DEFAULT_FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
"""Where :func:`find_fonts` looks by default (searched recursively)."""

_LATIN_REGULAR = ("DejaVuSans.ttf",)
_LATIN_BOLD = ("DejaVuSans-Bold.ttf",)
# (file name, index inside a .ttc collection); Japanese faces first.
_CJK_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("NotoSansCJK-Regular.ttc", 0),
    ("NotoSansCJKjp-Regular.otf", 0),
    ("NotoSansJP-Regular.otf", 0),
    ("NotoSansJP-Regular.ttf", 0),
    ("ipagp.ttf", 0),  # proportional Latin reads better than ipag's fixed width
    ("ipag.ttf", 0),
    ("ipaexg.ttf", 0),
    ("DroidSansFallbackFull.ttf", 0),
    ("DroidSansFallback.ttf", 0),
)
CJK_PACKAGES = "fonts-noto-cjk or fonts-ipafont-gothic"

_MARGIN = 18.0
_WIDTH = 210.0 - 2 * _MARGIN  # A4
_GREY = (97, 110, 124)
_INK = (31, 41, 51)


@dataclass(frozen=True)
class FontSet:
    """Font files for PDFs: a Latin regular/bold pair and an optional CJK face."""

    regular: Path
    bold: Path
    cjk: Path | None = None
    cjk_index: int = 0


def _walk(dirs: Iterable[str | Path]) -> Iterator[Path]:
    for entry in dirs:
        root = Path(entry).expanduser()
        if root.is_dir():
            yield from (p for p in root.rglob("*") if p.suffix.lower() in {".ttf", ".otf", ".ttc"})


def find_fonts(dirs: Sequence[str | Path] = DEFAULT_FONT_DIRS) -> FontSet:
    """Look for DejaVu Sans and a CJK font under ``dirs``.

    :raises ConfigurationError: when DejaVu Sans is missing (install ``fonts-dejavu-core``).
    """
    found: dict[str, Path] = {}
    for path in _walk(dirs):
        found.setdefault(path.name, path)
    regular = next((found[n] for n in _LATIN_REGULAR if n in found), None)
    bold = next((found[n] for n in _LATIN_BOLD if n in found), None)
    if regular is None:
        raise ConfigurationError(
            "No DejaVu Sans font found for PDF rendering; install fonts-dejavu-core or pass "
            "a FontSet.",
            searched=[str(d) for d in dirs],
        )
    cjk = next(((found[n], i) for n, i in _CJK_CANDIDATES if n in found), None)
    return FontSet(
        regular=regular,
        bold=bold or regular,
        cjk=None if cjk is None else cjk[0],
        cjk_index=0 if cjk is None else cjk[1],
    )


def _texts(view: DocumentView) -> Iterator[str]:
    yield from (view.title, view.number, view.status or "", view.tax_rate_heading, view.tax_name)
    for row in (*view.meta, *view.totals):
        yield from (row.label, row.value)
    for party in (view.seller, view.buyer):
        if party is not None:
            yield from (party.name, *party.lines, *party.tax_ids, party.email or "")
    for line in view.lines:
        yield from (line.description, *line.details, line.quantity, line.unit_price, line.amount)
        yield line.tax_rate
    for tax in view.tax_rows:
        yield from (tax.label, tax.taxable_amount, tax.amount)
    for note in view.credit_notes:
        yield from (note.number, note.date, note.amount, note.effect)
    yield from (*view.notes, *view.footer)
    yield from view.labels.values()


class _Document(FPDF):
    """An A4 page with the document's title, number and page x/y on every page: in the
    footer of each page, and as a running header from page 2 on."""

    def __init__(self, view: DocumentView) -> None:
        super().__init__(format="A4", unit="mm")
        self.running_title = view.running_title
        self.footer_lines = view.footer
        self.page_label = view.labels.get("page", "Page")

    def _page_text(self) -> str:
        return f"{self.page_label} {self.page_no()}/{{nb}}"

    def header(self) -> None:
        if self.page_no() == 1:
            return  # the first page has the full heading with number and dates
        self.set_xy(_MARGIN, 9)
        self.set_font(style="B", size=8.5)
        self.set_text_color(*_GREY)
        self.cell(_WIDTH / 2, 5, self.running_title)
        self.set_font(style="", size=8.5)
        # Right-aligned by hand: fpdf measures the "{nb}" alias, not the page count it
        # becomes; assume the count has as many digits as this page's number.
        page = self.page_no()
        width = self.get_string_width(f"{self.page_label} {page}/{page}") + 2 * self.c_margin
        self.set_x(_MARGIN + _WIDTH - width)
        self.cell(width, 5, self._page_text())
        self.set_draw_color(203, 210, 217)
        self.line(_MARGIN, 15, _MARGIN + _WIDTH, 15)
        self.set_xy(_MARGIN, _MARGIN + 1)

    def footer(self) -> None:
        self.set_y(-10 - 4 * len(self.footer_lines))
        self.set_font(style="", size=7.5)
        self.set_text_color(*_GREY)
        for line in self.footer_lines:
            self.cell(0, 4, line, align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4, f"{self.running_title} \u00b7 {self._page_text()}", align="C")


class PdfRenderer(DocumentRenderer[bytes]):
    """Renders invoices, receipts and credit notes to PDF bytes.

    ``render_invoice``, ``render_receipt`` and ``render_credit_note`` (from
    :class:`~lms_billing.rendering._renderer.DocumentRenderer`) return the PDF file.
    """

    def __init__(
        self,
        fonts: FontSet | None = None,
        *,
        font_dirs: Sequence[str | Path] = DEFAULT_FONT_DIRS,
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(labels=labels)
        self._fonts = fonts
        self._font_dirs = tuple(font_dirs)

    @property
    def fonts(self) -> FontSet:
        """The fonts in use (found lazily on first use, then kept)."""
        if self._fonts is None:
            self._fonts = find_fonts(self._font_dirs)
        return self._fonts

    def render_view(self, view: DocumentView) -> bytes:
        """Draw a localized view as a one- or multi-page A4 PDF."""
        pdf = _Document(view)
        self._setup_fonts(pdf, view)
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(True, margin=18 + 4 * len(view.footer))
        pdf.set_title(view.running_title)
        pdf.set_author(view.seller.name)
        pdf.set_lang(view.locale.replace("_", "-"))
        pdf.add_page()
        _header(pdf, view)
        _lines(pdf, view)
        _totals(pdf, view)
        _tax_rows(pdf, view)
        _credit_notes(pdf, view)
        _notes(pdf, view)
        return bytes(pdf.output())

    def _setup_fonts(self, pdf: FPDF, view: DocumentView) -> None:
        fonts = self.fonts
        pdf.add_font("latin", "", str(fonts.regular))
        pdf.add_font("latin", "B", str(fonts.bold))
        families = ["latin"]
        if fonts.cjk is not None:
            for style in ("", "B"):  # one weight: CJK bold falls back to the regular face
                pdf.add_font("cjk", style, str(fonts.cjk), collection_font_number=fonts.cjk_index)
            families.append("cjk")
        elif view.lang in {"ja", "zh", "ko"}:
            raise ConfigurationError(
                f"Rendering a {view.locale} PDF needs a CJK font; install {CJK_PACKAGES} "
                "or pass FontSet(cjk=...).",
                locale=view.locale,
            )
        if view.lang in {"ja", "zh", "ko"}:
            families.reverse()  # CJK face first so kana and kanji share one design
        _check_coverage(pdf, families, _texts(view))
        pdf.set_font(families[0], size=10)
        pdf.set_fallback_fonts(families[1:], exact_match=False)


def _check_coverage(pdf: FPDF, families: Sequence[str], texts: Iterable[str]) -> None:
    cmaps: list[Any] = [getattr(pdf.fonts[family], "cmap", {}) for family in families]
    missing = sorted(
        {
            char
            for text in texts
            for char in text
            if char not in "\n\r\t" and not any(ord(char) in cmap for cmap in cmaps)
        }
    )
    if missing:
        raise ConfigurationError(
            f"No installed font has the characters {''.join(missing)!r}; install {CJK_PACKAGES} "
            "or pass a FontSet with a font that covers them.",
            characters=[f"U+{ord(c):04X}" for c in missing],
        )


def _text(pdf: FPDF, size: float, *, bold: bool = False, grey: bool = False) -> None:
    pdf.set_font(style="B" if bold else "", size=size)
    pdf.set_text_color(*(_GREY if grey else _INK))


def _fitted(pdf: FPDF, width: float, text: str, size: float) -> None:
    """Shrink the font (down to 6 pt) until ``text`` fits ``width`` on one line."""
    while size > 6 and pdf.get_string_width(text) > width - 1:
        size -= 0.5
        pdf.set_font_size(size)


def _header(pdf: FPDF, view: DocumentView) -> None:
    top = pdf.get_y()
    _text(pdf, 14, bold=True)
    pdf.multi_cell(95, 7, view.seller.name, align="L", new_x="LMARGIN", new_y="NEXT")
    _party_details(pdf, view.seller, 95)
    left_bottom = pdf.get_y()

    right = _MARGIN + _WIDTH - 80
    pdf.set_xy(right, top)
    _text(pdf, 20, bold=True)
    pdf.cell(80, 9, view.title.upper() if view.lang != "ja" else view.title, align="R")
    pdf.set_xy(right, top + 10)
    if view.status:
        _text(pdf, 8, bold=True, grey=True)
        pdf.cell(80, 5, view.status.upper(), align="R")
        pdf.set_xy(right, top + 16)
    for row in view.meta:
        _text(pdf, 9, bold=True)
        value_width = max(pdf.get_string_width(row.value) + 2, 30.0)
        _text(pdf, 9, grey=True)
        _fitted(pdf, 80 - value_width - 3, row.label, 9)  # keep 3 mm before the value
        pdf.cell(80 - value_width, 5, row.label)
        _text(pdf, 9, bold=True)
        pdf.cell(value_width, 5, row.value, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(right)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    if view.buyer is not None:
        _text(pdf, 8, bold=True, grey=True)
        pdf.cell(0, 5, view.labels["bill_to"].upper(), new_x="LMARGIN", new_y="NEXT")
        _text(pdf, 10, bold=True)
        pdf.cell(0, 5, view.buyer.name, new_x="LMARGIN", new_y="NEXT")
        _party_details(pdf, view.buyer, 0)
        pdf.ln(6)


def _party_details(pdf: FPDF, party: PartyView, width: float) -> None:
    """Address lines, email and tax ids under a party's name, one per line."""
    _text(pdf, 9)
    for line in (*party.lines, party.email or ""):
        if line:
            pdf.cell(width, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    for tax_id in party.tax_ids:
        pdf.cell(width, 4.5, tax_id, new_x="LMARGIN", new_y="NEXT")


@dataclass(frozen=True)
class _Column:
    key: str  # the label key of the heading, or "" for the tax rate column
    width: float
    align: str  # "L" or "R"


_QUANTITY, _UNIT, _RATE, _AMOUNT = 16.0, 28.0, 22.0, 30.0


def _rate_width(pdf: FPDF, view: DocumentView) -> float:
    """Wide enough for the longest rate ("TVQ 9,975 %" on a Quebec invoice), within limits."""
    _text(pdf, 9.5)
    texts = [part for line in view.lines for part in line.tax_rate.split("\n")]
    widest = max((pdf.get_string_width(text) for text in texts), default=0.0)
    return min(max(_RATE, widest + 4), 36.0)


def _columns(pdf: FPDF, view: DocumentView) -> tuple[_Column, ...]:
    """Description, quantity, [unit price], [tax rate], amount; the description takes the
    width the others leave."""
    numeric = [_Column("quantity", _QUANTITY, "R")]
    if view.show_unit_price:
        numeric.append(_Column("unit_price", _UNIT, "R"))
    if view.show_tax_rate:
        numeric.append(_Column("", _rate_width(pdf, view), "R"))
    numeric.append(_Column("amount", _AMOUNT, "R"))
    description = _WIDTH - sum(c.width for c in numeric)
    return (_Column("description", description, "L"), *numeric)


def _cells(line: LineView, columns: Sequence[_Column]) -> list[str]:
    values = {
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "": line.tax_rate,
        "amount": line.amount,
    }
    return [values[c.key] for c in columns[1:]]


def _table_header(pdf: FPDF, view: DocumentView) -> None:
    pdf.set_fill_color(240, 242, 245)
    for column in _columns(pdf, view):
        heading = (view.labels[column.key] if column.key else view.tax_rate_heading).upper()
        _text(pdf, 8, bold=True, grey=True)
        _fitted(pdf, column.width, heading, 8)
        pdf.cell(column.width, 7, heading, align=column.align, fill=True)
    pdf.ln(7)


def _wrapped_lines(pdf: FPDF, width: float, height: float, text: str) -> int:
    lines = pdf.multi_cell(width, height, text, align="L", dry_run=True, output="LINES")
    return len(lines) if isinstance(lines, list) else 1


def _lines(pdf: FPDF, view: DocumentView) -> None:
    _table_header(pdf, view)
    columns = _columns(pdf, view)
    text_width = columns[0].width - 2
    for line in view.lines:
        _text(pdf, 9.5)
        desc_lines = _wrapped_lines(pdf, text_width, 5, line.description)
        cell_lines = max(
            _wrapped_lines(pdf, column.width, 5, value)
            for column, value in zip(columns[1:], _cells(line, columns), strict=True)
        )
        _text(pdf, 8)
        detail_lines = sum(_wrapped_lines(pdf, text_width, 4, d) for d in line.details)
        height = max(5 * desc_lines + 4 * detail_lines, 5 * cell_lines) + 3
        if pdf.will_page_break(height):
            pdf.add_page()
            _table_header(pdf, view)
        top = pdf.get_y() + 1.5
        pdf.set_xy(_MARGIN + 1, top)
        _text(pdf, 9.5)
        pdf.multi_cell(text_width, 5, line.description, align="L", new_x="LEFT", new_y="NEXT")
        _text(pdf, 8, grey=True)
        for detail in line.details:
            pdf.multi_cell(text_width, 4, detail, align="L", new_x="LEFT", new_y="NEXT")
        _text(pdf, 9.5)
        x = _MARGIN + columns[0].width
        for column, value in zip(columns[1:], _cells(line, columns), strict=True):
            pdf.set_xy(x, top)
            pdf.multi_cell(column.width, 5, value, align=column.align)
            x += column.width
        bottom = top + height - 1.5
        pdf.set_draw_color(228, 231, 235)
        pdf.line(_MARGIN, bottom, _MARGIN + _WIDTH, bottom)
        pdf.set_xy(_MARGIN, bottom)


def _label_value_rows(
    pdf: FPDF, rows: Sequence[tuple[str, str, bool]], left: float, label_width: float
) -> None:
    """Right-hand block of ``label ... value`` rows; long labels wrap, values stay on the
    first line. ``bool`` makes a row bold with a rule above it."""
    value_width = _MARGIN + _WIDTH - left - label_width
    for label, value, strong in rows:
        size = 10 if strong else 9.5
        _text(pdf, size, bold=strong)
        lines = _wrapped_lines(pdf, label_width, 5, label)
        line_height = 6.5 if lines == 1 else 5.0
        height = 6.5 if lines == 1 else 5.0 * lines + 1.5
        if pdf.will_page_break(height):
            pdf.add_page()
        top = pdf.get_y()
        if strong:
            pdf.set_draw_color(203, 210, 217)
            pdf.line(left, top, _MARGIN + _WIDTH, top)
        pdf.set_xy(left, top)
        pdf.multi_cell(label_width, line_height, label, align="L")
        pdf.set_xy(left + label_width, top)
        pdf.cell(value_width, line_height, value, align="R")
        pdf.set_xy(_MARGIN, top + height)


def _totals(pdf: FPDF, view: DocumentView) -> None:
    pdf.ln(4)
    rows = [(row.label, row.value, row.strong) for row in view.totals]
    _label_value_rows(pdf, rows, _MARGIN + _WIDTH - 100, 66)


def _section_heading(pdf: FPDF, title: str, rows: int) -> None:
    """A grey caps title, moved to a new page with at least its first ``rows`` rows."""
    if pdf.will_page_break(14 + 6 * rows):
        pdf.add_page()
    pdf.ln(6)
    _text(pdf, 8, bold=True, grey=True)
    pdf.cell(0, 6, title.upper(), new_x="LMARGIN", new_y="NEXT")


def _table(
    pdf: FPDF,
    headings: Sequence[str],
    widths: Sequence[float],
    aligns: str,
    rows: Sequence[Sequence[str]],
) -> None:
    """A small table with a shaded heading row; cells wrap, the row takes the tallest. A
    left-aligned column after the first keeps a gap to the (right-aligned) one before it."""
    gaps = [3.0 if i and align == "L" else 0.0 for i, align in enumerate(aligns)]
    pdf.set_fill_color(240, 242, 245)
    _text(pdf, 8, bold=True, grey=True)
    for heading, width, align, gap in zip(headings, widths, aligns, gaps, strict=True):
        if gap:
            pdf.cell(gap, 6, "", fill=True)  # a zero width would mean "to the margin"
        pdf.cell(width - gap, 6, heading, align=align, fill=True)
    pdf.ln(6)
    _text(pdf, 9)
    cells = list(zip(widths, aligns, gaps, strict=True))
    for row in rows:
        pairs = zip(row, cells, strict=True)
        lines = max(_wrapped_lines(pdf, w - g, 5, v) for v, (w, _, g) in pairs)
        height = 5.0 * lines + 1.5
        if pdf.will_page_break(height):
            pdf.add_page()
        top, x = pdf.get_y(), _MARGIN
        for value, (width, align, gap) in zip(row, cells, strict=True):
            pdf.set_xy(x + gap, top + 0.75)
            pdf.multi_cell(width - gap, 5, value, align=align)
            x += width
        pdf.set_draw_color(228, 231, 235)
        pdf.line(_MARGIN, top + height, _MARGIN + _WIDTH, top + height)
        pdf.set_xy(_MARGIN, top + height)


def _tax_rows(pdf: FPDF, view: DocumentView) -> None:
    if not view.tax_rows:
        return
    labels = view.labels
    _section_heading(pdf, labels["tax_breakdown"], len(view.tax_rows))
    _table(
        pdf,
        (labels["rate"], labels["taxable_amount"], view.tax_name or labels["tax"]),
        (94.0, 40.0, 40.0),
        "LRR",
        [(row.label, row.taxable_amount, row.amount) for row in view.tax_rows],
    )


def _credit_notes(pdf: FPDF, view: DocumentView) -> None:
    if not view.credit_notes:
        return
    labels = view.labels
    _section_heading(pdf, labels["credit_notes_issued"], len(view.credit_notes))
    _table(
        pdf,
        (labels["number"], labels["date"], labels["amount"], labels["credit_note_effect"]),
        (36.0, 44.0, 28.0, 66.0),
        "LLRL",
        [(n.number, n.date, n.amount, n.effect) for n in view.credit_notes],
    )


def _notes(pdf: FPDF, view: DocumentView) -> None:
    if not view.notes:
        return
    pdf.ln(6)
    _text(pdf, 9)
    for note in view.notes:
        pdf.multi_cell(0, 4.8, note, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)


__all__ = ["CJK_PACKAGES", "DEFAULT_FONT_DIRS", "FontSet", "PdfRenderer", "find_fonts"]
