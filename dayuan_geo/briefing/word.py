"""The briefing as Word (.docx), the file offices edit before sending it on: real headings (Word's
Heading styles, so the navigation pane and a table of contents work), real tables, the charts as
pictures, A4 with page numbers. python-docx writes the file; Chinese text carries an East Asian font
name (微软雅黑 on office PCs, Noto Sans CJK SC elsewhere) so Word does not fall back to a Western one.
"""

from __future__ import annotations

import io

from docx import Document as new_document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from dayuan_geo.briefing.content import Document, Heading, Image, Para, Table
from dayuan_geo.text import t

EAST_ASIAN_FONT = "Microsoft YaHei"
WESTERN_FONT = "Arial"
DEMO_RED = RGBColor(190, 30, 30)
NOTE_GREY = RGBColor(90, 90, 90)


def _fonts(style) -> None:
    style.font.name = WESTERN_FONT
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), EAST_ASIAN_FONT if attr == "w:eastAsia" else WESTERN_FONT)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def _page_numbers(section, lang: str) -> None:
    """'第 N 页 / 共 M 页' in the footer, with Word's PAGE and NUMPAGES fields."""
    para = section.footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    before, rest = t("brief_page", lang, n="\x00", total="\x01").split("\x00")
    middle, after = rest.split("\x01")
    for text, field in ((before, "PAGE"), (middle, "NUMPAGES"), (after, None)):
        if text:
            para.add_run(text).font.size = Pt(8)
        if field:
            simple = OxmlElement("w:fldSimple")
            simple.set(qn("w:instr"), field)
            run = OxmlElement("w:r")
            text_el = OxmlElement("w:t")
            text_el.text = "1"
            run.append(text_el)
            simple.append(run)
            para._p.append(simple)


def render(doc: Document) -> bytes:
    """The document as .docx bytes."""
    out = new_document()
    section = out.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Caption"):
        _fonts(out.styles[name])
    out.styles["Normal"].font.size = Pt(10.5)
    out.core_properties.title = doc.title
    _page_numbers(section, doc.lang)
    out.add_heading(doc.title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    stamp = out.add_paragraph(doc.stamp)
    stamp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    stamp.runs[0].font.color.rgb = NOTE_GREY
    if doc.demo:
        demo = out.add_paragraph()
        demo.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = demo.add_run(doc.demo)
        run.bold = True
        run.font.color.rgb = DEMO_RED
    width = section.page_width - section.left_margin - section.right_margin
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.add_heading(block.text, level=block.level)
        elif isinstance(block, Para):
            para = out.add_paragraph(block.text)
            if block.note:
                para.runs[0].font.size = Pt(9)
                para.runs[0].font.color.rgb = NOTE_GREY
        elif isinstance(block, Table):
            _table(out, block, width)
        elif isinstance(block, Image):
            out.add_picture(io.BytesIO(block.png), width=Mm(block.width_mm))
            out.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            out.add_paragraph(block.caption, style="Caption")
        else:
            raise TypeError(f"no Word layout for {type(block).__name__}")
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _table(out, block: Table, width: int) -> None:
    table = out.add_table(rows=1, cols=len(block.columns), style="Table Grid")
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = sum(block.widths)
    numeric = block.numeric or (False,) * len(block.columns)
    for cell, name in zip(table.rows[0].cells, block.columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(name)
        run.bold = True
        run.font.size = Pt(9)
    _repeat_header(table.rows[0])
    for values in block.rows:
        cells = table.add_row().cells
        for cell, value, num in zip(cells, values, numeric, strict=True):
            cell.text = ""
            para = cell.paragraphs[0]
            para.add_run(value).font.size = Pt(9)
            if num:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for i, column in enumerate(table.columns):
        for cell in column.cells:
            cell.width = int(width * block.widths[i] / total)
    out.add_paragraph()


def _repeat_header(row) -> None:
    """The header row repeats on every page a long table runs over."""
    props = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    props.append(header)
