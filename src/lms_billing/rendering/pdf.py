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
from lms_billing.rendering.context import DocumentView, PartyView

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
    yield from (view.title, view.number, view.status or "")
    for row in (*view.meta, *view.totals):
        yield from (row.label, row.value)
    for party in (view.seller, view.buyer):
        if party is not None:
            yield from (party.name, *party.lines, *party.tax_ids, party.email or "")
    for line in view.lines:
        yield from (line.description, *line.details, line.quantity, line.unit_price, line.amount)
    for tax in view.tax_rows:
        yield from (tax.label, tax.taxable_amount, tax.amount)
    yield from (*view.notes, *view.footer)
    yield from view.labels.values()


class _Document(FPDF):
    def __init__(self, footer_lines: Sequence[str], page_label: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.footer_lines = footer_lines
        self.page_label = page_label

    def footer(self) -> None:
        self.set_y(-10 - 4 * len(self.footer_lines))
        self.set_font(style="", size=7.5)
        self.set_text_color(*_GREY)
        for line in self.footer_lines:
            self.cell(0, 4, line, align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4, f"{self.page_label} {self.page_no()}/{{nb}}", align="C")


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
        pdf = _Document(view.footer, view.labels.get("page", "Page"))
        self._setup_fonts(pdf, view)
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(True, margin=18 + 4 * len(view.footer))
        pdf.set_title(f"{view.title} {view.number}".strip())
        pdf.set_author(view.seller.name)
        pdf.set_lang(view.locale.replace("_", "-"))
        pdf.add_page()
        _header(pdf, view)
        _lines(pdf, view)
        _totals(pdf, view)
        _tax_rows(pdf, view)
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


def _header(pdf: FPDF, view: DocumentView) -> None:
    top = pdf.get_y()
    _text(pdf, 14, bold=True)
    pdf.multi_cell(95, 7, view.seller.name, new_x="LMARGIN", new_y="NEXT")
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
        _text(pdf, 9, grey=True)
        pdf.cell(38, 5, row.label)
        _text(pdf, 9, bold=True)
        pdf.cell(42, 5, row.value, align="R", new_x="LMARGIN", new_y="NEXT")
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


_COLUMNS = (96.0, 18.0, 30.0, 30.0)  # description, quantity, unit price, amount
_COLUMNS_NO_UNIT = (126.0, 18.0, 0.0, 30.0)


def _columns(view: DocumentView) -> tuple[float, float, float, float]:
    return _COLUMNS if view.show_unit_price else _COLUMNS_NO_UNIT


def _table_header(pdf: FPDF, view: DocumentView) -> None:
    _text(pdf, 8, bold=True, grey=True)
    pdf.set_fill_color(240, 242, 245)
    headings = ("description", "quantity", "unit_price", "amount")
    for width, key, align in zip(_columns(view), headings, "LRRR", strict=True):
        if width:
            pdf.cell(width, 7, view.labels[key].upper(), align=align, fill=True)
    pdf.ln(7)


def _wrapped_lines(pdf: FPDF, width: float, height: float, text: str) -> int:
    lines = pdf.multi_cell(width, height, text, dry_run=True, output="LINES")
    return len(lines) if isinstance(lines, list) else 1


def _lines(pdf: FPDF, view: DocumentView) -> None:
    _table_header(pdf, view)
    columns = _columns(view)
    for line in view.lines:
        _text(pdf, 9.5)
        desc_lines = _wrapped_lines(pdf, columns[0] - 2, 5, line.description)
        _text(pdf, 8)
        detail_lines = sum(_wrapped_lines(pdf, columns[0] - 2, 4, d) for d in line.details)
        height = 5 * desc_lines + 4 * detail_lines + 3
        if pdf.will_page_break(height):
            pdf.add_page()
            _table_header(pdf, view)
        top = pdf.get_y() + 1.5
        pdf.set_xy(_MARGIN + 1, top)
        _text(pdf, 9.5)
        pdf.multi_cell(columns[0] - 2, 5, line.description, new_x="LEFT", new_y="NEXT")
        _text(pdf, 8, grey=True)
        for detail in line.details:
            pdf.multi_cell(columns[0] - 2, 4, detail, new_x="LEFT", new_y="NEXT")
        _text(pdf, 9.5)
        pdf.set_xy(_MARGIN + columns[0], top)
        for width, value in zip(
            columns[1:], (line.quantity, line.unit_price, line.amount), strict=True
        ):
            if width:
                pdf.cell(width, 5, value, align="R")
        bottom = top + height - 1.5
        pdf.set_draw_color(228, 231, 235)
        pdf.line(_MARGIN, bottom, _MARGIN + _WIDTH, bottom)
        pdf.set_xy(_MARGIN, bottom)


def _totals(pdf: FPDF, view: DocumentView) -> None:
    pdf.ln(4)
    left = _MARGIN + _WIDTH - 90
    for row in view.totals:
        if pdf.will_page_break(7):
            pdf.add_page()
        if row.strong:
            pdf.set_draw_color(203, 210, 217)
            pdf.line(left, pdf.get_y(), _MARGIN + _WIDTH, pdf.get_y())
        _text(pdf, 10 if row.strong else 9.5, bold=row.strong)
        pdf.set_x(left)
        pdf.cell(55, 6.5, row.label)
        pdf.cell(35, 6.5, row.value, align="R", new_x="LMARGIN", new_y="NEXT")


def _tax_rows(pdf: FPDF, view: DocumentView) -> None:
    if not view.tax_rows:
        return
    if pdf.will_page_break(14 + 6 * len(view.tax_rows)):
        pdf.add_page()
    pdf.ln(6)
    _text(pdf, 8, bold=True, grey=True)
    pdf.cell(0, 6, view.labels["tax_breakdown"].upper(), new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(240, 242, 245)
    pdf.cell(84, 6, view.labels["rate"], fill=True)
    pdf.cell(45, 6, view.labels["taxable_amount"], align="R", fill=True)
    pdf.cell(45, 6, view.labels["tax"], align="R", fill=True, new_x="LMARGIN", new_y="NEXT")
    _text(pdf, 9)
    for row in view.tax_rows:
        pdf.cell(84, 6, row.label)
        pdf.cell(45, 6, row.taxable_amount, align="R")
        pdf.cell(45, 6, row.amount, align="R", new_x="LMARGIN", new_y="NEXT")


def _notes(pdf: FPDF, view: DocumentView) -> None:
    if not view.notes:
        return
    pdf.ln(6)
    _text(pdf, 9)
    for note in view.notes:
        pdf.multi_cell(0, 4.8, note, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)


__all__ = ["CJK_PACKAGES", "DEFAULT_FONT_DIRS", "FontSet", "PdfRenderer", "find_fonts"]
