"""UI text in Chinese (the default) and English. Column and status labels live in schema."""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("大源街道土地释放看板", "Dayuan Land-Release Dashboard"),
    "language": ("语言", "Language"),
    "demo_badge": ("演示数据 · 几何为合成示意", "Demo data · synthetic geometry"),
    "imported_badge": ("正式数据", "Imported data"),
    "data_as_of": ("数据截至", "Data as of"),
    "dataset_version": ("数据版本", "Dataset version"),
    "role": ("角色", "Role"),
    "local_mode": ("本机模式：仅限本机访问", "Local mode: this machine only"),
    "page_overview": ("总览", "Overview"),
    "overview_title": ("大源街道物流园区整治与土地释放总览", "Dayuan Street: park remediation and land release"),
    "overview_caption": (
        "大源街道（白云区）村级物流园区整治提升：园区关停、改造或规范，清租腾退、拆除后释放土地用于新产业。",
        "Dayuan Street (Baiyun District) is remediating its village logistics parks: parks are shut down, "
        "redeveloped or regularised, and land is released for new industry.",
    ),
    "kpi_released": ("已释放土地", "Land released"),
    "kpi_released_help": (
        "截至数据日期已释放地块面积合计（按CGCS2000高斯投影计算）；增量为较一个月前",
        "Area of parcels released by the data date (computed in CGCS2000 GK); delta against a month earlier",
    ),
    "kpi_year_target": ("本年释放 / 年度目标", "Released this year / target"),
    "kpi_parcels": ("已释放地块", "Parcels released"),
    "kpi_projects": ("整治项目", "Remediation projects"),
    "kpi_completed": ("已竣工", "Completed"),
    "kpi_overdue": ("逾期项目", "Overdue projects"),
    "kpi_overdue_help": ("计划完成日期已过且未竣工", "Past their planned finish and not completed"),
    "kpi_stalled": ("停滞项目", "Stalled projects"),
    "kpi_stalled_help": ("超过{days}天无阶段变化", "No stage change for more than {days} days"),
    "kpi_blacklisted": ("黑榜企业", "Blacklisted firms"),
    "kpi_high_risk": ("高危企业", "High-risk firms"),
    "kpi_inspections": ("本年巡查次数", "Inspections this year"),
    "kpi_rectification": ("本年责令整改企业", "Firms ordered to rectify this year"),
    "of_target": ("目标 {target}", "target {target}"),
    "no_target": ("未设年度目标", "no target set"),
    "unit_wan_m2": ("万㎡", "10k m²"),
    "unit_m2": ("㎡", "m²"),
    "chart_released_title": ("土地释放进度（按月）", "Land released by month"),
    "chart_month": ("月份", "Month"),
    "chart_released_month": ("当月释放(㎡)", "Released in month (m²)"),
    "chart_cumulative": ("累计释放(㎡)", "Cumulative (m²)"),
    "chart_funnel_title": ("整治阶段漏斗（到达各阶段的项目数）", "Remediation funnel (projects reaching each stage)"),
    "chart_projects": ("项目数", "Projects"),
    "map_title": ("地块释放状态与黑榜企业分布", "Parcels by release status, blacklisted firms"),
    "map_caption": (
        "无在线底图：村居边界与名称为本产品自带图层。点位为黑榜企业。",
        "No online base map: village outlines and names are the product's own layers. Points are blacklisted firms.",
    ),
    "legend": ("图例", "Legend"),
    "legend_blacklisted": ("黑榜企业", "Blacklisted firm"),
    "legend_village": ("村居边界", "Village boundary"),
    "tt_parcel": ("地块", "Parcel"),
    "tt_park": ("园区", "Park"),
    "tt_village": ("村居", "Village"),
    "tt_area": ("面积", "Area"),
    "tt_status": ("状态", "Status"),
    "tt_released_on": ("释放日期", "Released on"),
    "tt_firm": ("企业", "Firm"),
    "tt_risk": ("风险等级", "Risk level"),
    "tt_list_status": ("处置状态", "Status"),
    "tt_reason": ("原因", "Reason"),
    "tt_listed_on": ("列入日期", "Listed on"),
    "hidden_for_role": ("（当前角色不可见）", "(hidden for your role)"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export XLSX"),
    "export_geojson": ("导出 GeoJSON", "Export GeoJSON"),
    "export_geoparquet": ("导出 GeoParquet", "Export GeoParquet"),
    "export_not_allowed": ("当前角色无导出权限", "Your role may not export this data"),
    "no_data": ("数据集缺失或无法读取", "The dataset is missing or unreadable"),
}


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The text for key in lang, with {placeholders} filled from values."""
    zh, en = TEXT[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def fmt_area(m2: float | None, lang: str = DEFAULT_LANG) -> str:
    """An area the way people on the street say it: 万平方米 in Chinese, m² with separators in English."""
    if m2 is None:
        return "—"
    if lang == "zh":
        return f"{m2 / 10_000:,.2f} 万㎡"
    return f"{m2:,.0f} m²"
