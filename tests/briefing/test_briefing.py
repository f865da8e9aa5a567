"""The monthly briefing, read back as a person would: the text of the PDF (pypdf) and of the Word file
(python-docx) holds the month's figures of `kpis --json --as-of` the month's last day, recomputed
here from the parquet files too, the late projects by name, the demo label; A4 pages with page
numbers and an embedded CJK font; Word with real headings and tables; every file in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from docx import Document
from pypdf import PdfReader

DATA_DATE = pd.Timestamp("2026-11-20")
OCTOBER_END = "2026-10-31"


def run(*args, data_dir):
    cmd = [sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data(demo_dir, tmp_path_factory):
    """A private copy: the briefing writes its audit entry beside the data folder."""
    dst = tmp_path_factory.mktemp("brief") / "data"
    shutil.copytree(demo_dir, dst)
    return dst


@pytest.fixture(scope="module")
def files(data):
    out = data.parent
    made = {}
    runs = {"now.pdf": (), "oct.pdf": ("--month", "2026-10"), "oct.docx": ("--month", "2026-10"),
            "oct-en.pdf": ("--month", "2026-10", "--lang", "en")}
    for name, args in runs.items():
        r = run("briefing", *args, "-o", str(out / name), data_dir=data)
        assert r.returncode == 0, r.stderr
        made[name] = out / name
    return made


def pdf_text(path) -> str:
    """The PDF's text as a reader's copy-and-paste gives it (poppler's pdftotext). pypdf 7.1 misreads
    some CJK glyphs of fpdf2's subset CID fonts (their ToUnicode is right: poppler and Chromium read it),
    so pypdf checks the file's structure here and poppler reads the words."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; make browser-deps installs it")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def docx_text(path) -> str:
    doc = Document(path)
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def kpis(data, as_of: str) -> dict:
    r = run("kpis", "--json", "--as-of", as_of, data_dir=data)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wan(m2: float) -> str:
    return f"{m2 / 10_000:,.2f} 万㎡"


def expected_rows(k: dict) -> dict[str, str]:
    """Headline rows as a reader checks them: label, then the value."""
    return {
        "已释放土地": wan(k["released_area_m2"]),
        "本年释放 / 年度目标": wan(k["released_area_ytd_m2"]),
        "已释放地块": f"{k['released_parcels']:,} / {k['parcels_total']:,}",
        "整治项目": f"{k['remediation_projects_total']:,}",
        "逾期项目": f"{k['projects_overdue']:,}",
        "停滞项目": f"{k['projects_stalled']:,}",
        "黑榜企业": f"{k['blacklisted_firms']:,}",
        "高危企业": f"{k['high_risk_firms']:,}",
        "本年巡查次数": f"{k['inspections_ytd']:,}",
        "本年责令整改企业": f"{k['rectification_orders_ytd']:,}",
    }


def late_names_on_data_date(data) -> list[str]:
    """Overdue projects on the data date, from the file (each project's stage then is the file's)."""
    p = pd.read_parquet(data / "remediation_projects.parquet")
    days = (DATA_DATE - pd.to_datetime(p["planned_finish"])).dt.days
    late = p[(days > 0) & (p["stage"] != "completed")].assign(days=days)
    return list(late.sort_values(["days", "project_id"], ascending=[False, True])["name"])


def test_pdf_holds_the_months_figures_of_kpis_json(data, files):
    k = kpis(data, OCTOBER_END)
    text = flat(pdf_text(files["oct.pdf"]))
    for label, value in expected_rows(k).items():
        assert re.search(re.escape(label) + r" ?" + re.escape(value), text), (label, value)
    # independently: the land released by 31 October, from the parcels file
    parcels = pd.read_parquet(data / "parcels.parquet")
    released = parcels.loc[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(OCTOBER_END), "area_m2"].sum()
    assert wan(released) in text
    assert "大源街道土地释放与园区整治工作汇报（2026-10）" in text
    assert "演示数据 · 几何为合成示意" in text


def test_word_holds_the_same_figures_in_real_tables(data, files):
    k = kpis(data, OCTOBER_END)
    doc = Document(files["oct.docx"])
    headline = {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows[1:]}
    for label, value in expected_rows(k).items():
        assert headline[label] == value
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings[0] == "一、主要指标" and len(headings) == 9
    assert len(doc.tables) >= 7
    assert len(doc.inline_shapes) == 2  # the release chart and the map
    assert "演示数据 · 几何为合成示意" in docx_text(files["oct.docx"])
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)


def test_briefing_names_the_late_projects(data, files):
    names = late_names_on_data_date(data)
    assert len(names) == kpis(data, "2026-11-20")["projects_overdue"]
    text = flat(pdf_text(files["now.pdf"]))
    assert f"逾期项目（计划完成日期已过且未竣工，共 {len(names)} 个）" in text
    for name in names[:15]:
        assert name in text
    # in the order a reader expects: the latest first
    positions = [text.index(n) for n in names[:5]]
    assert positions == sorted(positions)


def test_pdf_is_a4_with_page_numbers_and_an_embedded_cjk_font(files):
    reader = PdfReader(files["now.pdf"])
    pages = reader.pages
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
        assert f"第 {number} 页 / 共 {len(pages)} 页" in page.extract_text().replace("\x00", "")
    fonts = pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        for desc in font.get("/DescendantFonts", []):
            fd = desc.get_object()["/FontDescriptor"].get_object()
            embedded.append((str(fd["/FontName"]), any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    assert embedded and all(ok for _, ok in embedded)
    assert any("NotoSansCJK" in name for name, _ in embedded)


def test_english_briefing(data, files):
    k = kpis(data, OCTOBER_END)
    text = flat(pdf_text(files["oct-en.pdf"]))
    assert "Dayuan Street: land release and park remediation, 2026-10" in text
    assert f"Land released {k['released_area_m2']:,.0f} m²" in text
    assert "Demo data · synthetic geometry" in text


def test_every_briefing_is_in_the_audit_log(data, files):
    log = [json.loads(line) for line in (data.parent / "logs" / "audit.jsonl").read_text("utf-8").splitlines()]
    briefs = [e for e in log if e["what"] == "briefing"]
    assert [(e["detail"]["file"], e["filters"]["as_of"]) for e in briefs] == [
        ("大源街道土地释放工作汇报_2026-11.pdf", "2026-11-20"), ("大源街道土地释放工作汇报_2026-10.pdf", OCTOBER_END),
        ("大源街道土地释放工作汇报_2026-10.docx", OCTOBER_END),
        ("Dayuan-land-release-briefing_2026-10.pdf", OCTOBER_END)]
    assert all(e["action"] == "export" for e in briefs)


@pytest.mark.parametrize(("args", "message"), [
    (("--month", "2027-01"), "after the data date"),
    (("--month", "2026-13"), "YYYY-MM"),
    (("--month", "October"), "YYYY-MM"),
])
def test_bad_month_exits_2_with_one_line(data, tmp_path, args, message):
    r = run("briefing", *args, "-o", str(tmp_path / "x.pdf"), data_dir=data)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.pdf").exists()


def test_pages_render_with_ink_on_each(files, tmp_path):
    """Each page rasterises (poppler) and carries text and pictures, not a blank sheet."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; make browser-deps installs it")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(files["now.pdf"]), str(tmp_path / "p")], check=True)
    from PIL import Image

    shots = sorted(tmp_path.glob("p-*.png"))
    assert len(shots) == len(PdfReader(files["now.pdf"]).pages)
    for shot in shots:
        with Image.open(shot) as im:
            inked = sum(1 for px in im.convert("L").getdata() if px < 230)
            assert inked > 2_000, shot.name


def test_month_window_and_months():
    from dayuan_geo.briefing import content
    from dayuan_geo.briefing import files as briefing

    day = dt.date(2026, 11, 20)
    assert content.month_window(None, data_date=day) == (dt.date(2026, 11, 1), day)
    assert content.month_window("2026-02", data_date=day) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert content.month_window("2024-02", data_date=day)[1] == dt.date(2024, 2, 29)
    assert briefing.months(day, count=3) == ["2026-11", "2026-10", "2026-09"]
    with pytest.raises(ValueError, match="format"):
        briefing.build(None, manifest={}, fmt="html", month=None, lang="zh", role="leader", user="x")


def test_a_viewers_briefing_names_no_firm(store, demo_dir):
    """The briefing shows what the role may see: built for a viewer, it holds places and counts but no
    firm name (the page offers it to leaders and planners only; the query layer holds the line too)."""
    from dayuan_geo.briefing import content

    doc = content.build(store.cursor(), manifest=store.manifest, month="2026-10", role="viewer")
    text = " ".join(" ".join(b.columns) + " ".join(" ".join(r) for r in b.rows) if isinstance(b, content.Table)
                    else getattr(b, "text", "") for b in doc.blocks)
    firms = pd.read_parquet(demo_dir / "firms.parquet")
    assert not [n for n in firms["name"] if n in text]
    assert "企业" not in [c for b in doc.blocks if isinstance(b, content.Table) for c in b.columns]
    risky = firms[firms["risk_level"].isin(["blacklisted", "high_risk"])]
    assert any(v in text for v in ("米龙村委会", "蓝山社区居委会")) and len(risky)
