"""The briefing as PDF: A4, Noto Sans CJK embedded (subset) so it reads the same on any machine,
headings as bookmarks, page numbers in the footer. fpdf2 is pure Python, embeds TrueType/OpenType
collections (`collection_font_number`) and lays out tables with wrapped cells.
"""

from __future__ import annotations

import io

from fpdf import FPDF
from fpdf.enums import Align, TableCellFillMode, XPos, YPos

from dayuan_geo.briefing import charts
from dayuan_geo.briefing.content import Document, Heading, Image, Para, Table
from dayuan_geo.text import t

FONT = "cjk"
MARGIN_MM = 18
DEMO_RED = (190, 30, 30)
NOTE_GREY = (90, 90, 90)


class _Pdf(FPDF):
    def __init__(self, lang: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.lang = lang

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*NOTE_GREY)
        self.cell(0, 6, t("brief_page", self.lang, n=self.page_no(), total="{nb}"), align=Align.C)


def render(doc: Document) -> bytes:
    """The document as PDF bytes."""
    pdf = _Pdf(doc.lang)
    pdf.add_font(FONT, "", str(charts.cjk_font()), collection_font_number=charts.CJK_SC_FACE)
    pdf.add_font(FONT, "B", str(charts.cjk_bold_font()), collection_font_number=charts.CJK_SC_FACE)
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(doc.title)
    pdf.set_creator("dayuan_geo briefing")
    pdf.add_page()
    pdf.set_font(FONT, "B", 17)
    pdf.multi_cell(0, 9, doc.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font(FONT, size=9)
    pdf.set_text_color(*NOTE_GREY)
    pdf.multi_cell(0, 5, doc.stamp, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.demo:
        pdf.set_text_color(*DEMO_RED)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(0, 6, doc.demo, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    for block, after in zip(doc.blocks, [*doc.blocks[1:], None], strict=True):
        # a heading stays with what follows it: with a picture, the whole picture
        room = _image_height(after.png, after.width_mm) + 25 if isinstance(after, Image) else 50
        if isinstance(block, Heading) and pdf.get_y() > pdf.h - 18 - room:
            pdf.add_page()
        _block(pdf, block)
    return bytes(pdf.output())


def _block(pdf: _Pdf, block: object) -> None:
    width = pdf.epw
    if isinstance(block, Heading):
        pdf.ln(3 if block.level == 1 else 1)
        pdf.start_section(block.text, level=block.level - 1, strict=False)
        pdf.set_font(FONT, "B", 13 if block.level == 1 else 10.5)
        pdf.multi_cell(width, 7 if block.level == 1 else 6, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    elif isinstance(block, Para):
        pdf.set_font(FONT, size=8.5 if block.note else 10)
        pdf.set_text_color(*(NOTE_GREY if block.note else (0, 0, 0)))
        pdf.multi_cell(width, 5 if block.note else 6, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1)
    elif isinstance(block, Table):
        pdf.set_font(FONT, size=8)
        total = sum(block.widths)
        widths = tuple(width * w / total for w in block.widths)
        aligns = tuple("RIGHT" if num else "LEFT" for num in (block.numeric or (False,) * len(block.columns)))
        with pdf.table(col_widths=widths, text_align=aligns, line_height=4.6, padding=1,
                       headings_style=_headings(), cell_fill_color=(244, 246, 248),
                       cell_fill_mode=TableCellFillMode.ROWS, first_row_as_headings=True) as table:
            head = table.row()
            for name in block.columns:
                head.cell(name)
            for values in block.rows:
                row = table.row()
                for value in values:
                    row.cell(value)
        pdf.ln(3)
    elif isinstance(block, Image):
        height = _image_height(block.png, block.width_mm)
        if pdf.get_y() + height + 10 > pdf.h - 18:
            pdf.add_page()
        pdf.image(io.BytesIO(block.png), x=(pdf.w - block.width_mm) / 2, w=block.width_mm)
        pdf.set_font(FONT, size=8)
        pdf.set_text_color(*NOTE_GREY)
        pdf.multi_cell(width, 4.5, block.caption, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
    else:
        raise TypeError(f"no PDF layout for {type(block).__name__}")


def _headings():
    from fpdf.fonts import FontFace

    return FontFace(family=FONT, emphasis="BOLD", fill_color=(220, 230, 240))


def _image_height(png: bytes, width_mm: float) -> float:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(png)) as im:
        return width_mm * im.height / im.width
