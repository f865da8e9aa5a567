"""Every table, column and enumeration of the product, with its zh/en label, named once.

Pages, queries, the demo generator, validation, imports and exports all import these names;
nothing else spells a column or a status value.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dayuan_geo import settings

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent

# Coordinate systems: storage in WGS 84 lon/lat, areas and distances in CGCS2000 / GK CM 114E.
STORAGE_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:4547"
GEOMETRY_COLUMN = "geometry"
BBOX_COLUMN = "bbox"
GEOPARQUET_VERSION = "1.1.0"
MANIFEST_NAME = "manifest.json"

# Guangzhou's extent with a margin (lon/lat); features outside it are refused on import.
GUANGZHOU_BOUNDS = (112.9, 22.5, 114.1, 23.95)


@dataclass(frozen=True)
class Enum:
    """A closed set of codes, each with its Chinese and English label."""

    name: str
    labels: dict[str, tuple[str, str]]  # code -> (zh, en), in display order
    unknown: bool = False  # descriptive: a file may say it does not know (UNKNOWN, shown 未知 / Unknown)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    @property
    def choices(self) -> tuple[str, ...]:
        """Every code a stored value may hold: the codes, and UNKNOWN where it is allowed."""
        return (*self.labels, UNKNOWN) if self.unknown else self.codes

    def label(self, code: str | None, lang: str = "zh") -> str:
        if code == UNKNOWN and self.unknown:
            return UNKNOWN_LABEL[0] if lang == "zh" else UNKNOWN_LABEL[1]
        if code is None or code not in self.labels:
            return "" if code is None else str(code)
        zh, en = self.labels[code]
        return zh if lang == "zh" else en

    def parse(self, value: object) -> str | None:
        """The code for a code or a zh/en label (case-insensitive for English), else None."""
        if value is None:
            return None
        text = str(value).strip()
        if text in self.labels:
            return text
        low = text.lower()
        for code, (zh, en) in self.labels.items():
            if text == zh or low == en.lower() or low == code.lower():
                return code
        if self.unknown and (text in UNKNOWN_WORDS or low in UNKNOWN_WORDS):
            return UNKNOWN
        return None


# The explicit "not known" of a descriptive column (current use, ownership, industry, ...).
UNKNOWN = "unknown"
UNKNOWN_LABEL = ("未知", "Unknown")
UNKNOWN_WORDS = ("unknown", "未知", "不详", "待核实")


VILLAGE_KIND = Enum(
    "village_kind",
    {"community": ("社区", "Community"), "village": ("行政村", "Village")},
    unknown=True,
)
RELEASE_STATUS = Enum(
    "release_status",
    {
        "not_started": ("未启动", "Not started"), "vacating": ("腾退中", "Vacating"),
        "released": ("已释放", "Released"), "transferred": ("已出让", "Transferred"),
        "under_construction": ("在建", "Under construction"), "completed": ("已建成", "Completed"),
    },
)
# Statuses a parcel can only have once its land is released (it then counts from released_on).
RELEASED_STATUSES = ("released", "transferred", "under_construction", "completed")
REMEDIATION_MODE = Enum(
    "mode",
    {
        "shutdown": ("淘汰关停", "Shut down"), "upgrade": ("改造提升", "Redevelop and upgrade"),
        "regularise": ("整治规范", "Rectify and regularise"),
    },
)
LAND_USE = Enum(
    "land_use",
    {
        "W1": ("W1 一类物流仓储用地", "W1 Logistics and warehousing"), "M0": ("M0 新型产业用地", "M0 New industrial"),
        "M1": ("M1 一类工业用地", "M1 Industrial"), "B1": ("B1 商业用地", "B1 Commercial"),
        "R2": ("R2 二类居住用地", "R2 Residential"), "G1": ("G1 公园绿地", "G1 Park green space"),
        "S": ("S 道路与交通设施用地", "S Roads and transport"), "A": ("A 公共管理与服务用地", "A Public services"),
    },
    unknown=True,
)
OWNERSHIP = Enum(
    "ownership",
    {"collective": ("集体", "Collective"), "state": ("国有", "State-owned")},
    unknown=True,
)
RISK_LEVEL = Enum(
    "risk_level",
    {
        "normal": ("一般", "Normal"), "high_risk": ("高危", "High risk"),
        "blacklisted": ("黑榜", "Blacklisted"),
    },
)
LIST_STATUS = Enum(
    "list_status",
    {
        "listed": ("在榜", "Listed"), "rectifying": ("整改中", "Rectifying"),
        "delisted": ("已移出", "Delisted"), "evicted": ("已清退", "Evicted"),
    },
)
INDUSTRY = Enum(
    "industry",
    {
        "express": ("快递", "Express delivery"), "freight": ("货运", "Freight"),
        "warehousing": ("仓储", "Warehousing"), "cold_chain": ("冷链", "Cold chain"),
        "ecommerce": ("电商", "E-commerce"), "auto_trade": ("汽车贸易", "Auto trade"),
        "manufacturing": ("制造", "Manufacturing"), "other": ("其他", "Other"),
    },
    unknown=True,
)
INSPECTION_CATEGORY = Enum(
    "category",
    {
        "fire": ("消防安全", "Fire safety"), "traffic": ("交通安全", "Traffic safety"),
        "dangerous_goods": ("危险品", "Dangerous goods"),
        "parcel_contraband": ("寄递违禁(假冒/毒品)", "Contraband in parcels"), "general": ("综合检查", "General"),
    },
)
INSPECTION_OUTCOME = Enum(
    "outcome",
    {
        "passed": ("合格", "Passed"), "fixed_on_site": ("当场整改", "Fixed on site"),
        "rectification_ordered": ("责令整改", "Rectification ordered"), "penalised": ("立案处罚", "Penalised"),
    },
)
TARGET_METRIC = Enum(
    "metric",
    {"released_area_m2": ("年度土地释放目标(平方米)", "Land to release this year (m²)")},
)


@dataclass(frozen=True)
class Stage:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class StageCatalogue:
    """The ordered remediation workflow; loaded from TOML so another street can describe its own."""

    stages: tuple[Stage, ...]
    land_released: str
    completed: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.stages)

    def order(self, code: str) -> int:
        return self.codes.index(code)

    def label(self, code: str | None, lang: str = "zh") -> str:
        for s in self.stages:
            if s.code == code:
                return s.zh if lang == "zh" else s.en
        return "" if code is None else str(code)

    def as_enum(self) -> Enum:
        return Enum("stage", {s.code: (s.zh, s.en) for s in self.stages})


DEFAULT_STAGES_FILE = PACKAGE_DIR / "stages.toml"


def load_stage_catalogue(path: Path) -> StageCatalogue:
    """Read and check a stage catalogue file; ValueError names what is wrong."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"stage catalogue {path}: {exc}") from exc
    items = raw.get("stage")
    if not isinstance(items, list) or len(items) < 2:
        raise ValueError(f"stage catalogue {path}: needs at least two [[stage]] entries")
    stages = []
    for i, item in enumerate(items, 1):
        try:
            stages.append(Stage(str(item["code"]), str(item["zh"]), str(item["en"])))
        except KeyError as exc:
            raise ValueError(f"stage catalogue {path}: stage {i} lacks {exc.args[0]!r}") from exc
    codes = [s.code for s in stages]
    if len(set(codes)) != len(codes):
        raise ValueError(f"stage catalogue {path}: stage codes repeat")
    land = raw.get("land_released_stage")
    done = raw.get("completed_stage", codes[-1])
    for key, value in (("land_released_stage", land), ("completed_stage", done)):
        if value not in codes:
            raise ValueError(f"stage catalogue {path}: {key} = {value!r} is not a stage code")
    return StageCatalogue(tuple(stages), land, done)


@cache
def _catalogue_from(path: str) -> StageCatalogue:
    return load_stage_catalogue(Path(path))


def stage_catalogue() -> StageCatalogue:
    """The catalogue in force: $DAYUAN_STAGES_FILE if set, else the one shipped with the package."""
    return _catalogue_from(str(settings.get("DAYUAN_STAGES_FILE") or DEFAULT_STAGES_FILE))


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # string, int, float, bool, date, geometry
    zh: str
    en: str
    enum: Enum | None = None
    required: bool = True
    sensitive: bool = False  # hidden from roles that may not see names of people or firms

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Table:
    name: str
    zh: str
    en: str
    key: str
    columns: tuple[Column, ...]
    geometry_type: str | None = None  # Polygon, MultiPolygon, Point or None for attribute tables
    enums: dict[str, Enum] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def has_geometry(self) -> bool:
        return self.geometry_type is not None


class _StageEnum:
    """Stage codes come from the catalogue in force, so the enum is resolved when used."""

    def __getattr__(self, item: str):
        return getattr(stage_catalogue().as_enum(), item)


STAGE = _StageEnum()

C = Column
GEOM_POLY = C(GEOMETRY_COLUMN, "geometry", "几何", "Geometry")
GEOM_POINT = C(GEOMETRY_COLUMN, "geometry", "位置", "Location")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "villages", "村居", "Villages and communities", "code",
            (
                C("code", "string", "区划代码", "Division code"),
                C("name_zh", "string", "名称", "Name (zh)"),
                C("name_en", "string", "英文名称", "Name (en)"),
                C("kind", "string", "类型", "Kind", VILLAGE_KIND),
                C("area_m2", "float", "面积(平方米)", "Area (m²)"),
                GEOM_POLY,
            ),
            "Polygon",
        ),
        Table(
            "grids", "网格", "Grids", "grid_id",
            (
                C("grid_id", "string", "网格编号", "Grid ID"),
                C("village_code", "string", "所属村居", "Village"),
                C("name", "string", "网格名称", "Grid name"),
                C("area_m2", "float", "面积(平方米)", "Area (m²)"),
                GEOM_POLY,
            ),
            "Polygon",
        ),
        Table(
            "parks", "物流园区", "Logistics parks", "park_id",
            (
                C("park_id", "string", "园区编号", "Park ID"),
                C("name", "string", "园区名称", "Park name"),
                C("name_en", "string", "英文名称", "Name (en)", required=False),
                C("village_code", "string", "所属村居", "Village"),
                C("operator", "string", "运营主体", "Operator", required=False),
                C("party_org", "bool", "已建党组织", "Party organisation"),
                C("micro_fire_station", "bool", "微型消防站", "Micro fire station"),
                C("area_m2", "float", "面积(平方米)", "Area (m²)"),
                GEOM_POLY,
            ),
            "Polygon",
        ),
        Table(
            "parcels", "地块", "Parcels", "parcel_id",
            (
                C("parcel_id", "string", "地块编号", "Parcel ID"),
                C("park_id", "string", "园区编号", "Park ID", required=False),
                C("village_code", "string", "所属村居", "Village"),
                C("name", "string", "地块名称", "Parcel name"),
                C("area_m2", "float", "面积(平方米)", "Area (m²)"),
                C("current_use", "string", "现状用途", "Current use", LAND_USE),
                C("planned_use", "string", "规划用途", "Planned use", LAND_USE),
                C("ownership", "string", "权属", "Ownership", OWNERSHIP),
                C("release_status", "string", "释放状态", "Release status", RELEASE_STATUS),
                C("released_on", "date", "释放日期", "Released on", required=False),
                GEOM_POLY,
            ),
            "Polygon",
        ),
        Table(
            "remediation_projects", "整治项目", "Remediation projects", "project_id",
            (
                C("project_id", "string", "项目编号", "Project ID"),
                C("park_id", "string", "园区编号", "Park ID"),
                C("name", "string", "项目名称", "Project name"),
                C("mode", "string", "整治模式", "Mode", REMEDIATION_MODE),
                C("stage", "string", "当前阶段", "Stage", STAGE),  # type: ignore[arg-type]
                C("started_on", "date", "启动日期", "Started on"),
                C("planned_finish", "date", "计划完成", "Planned finish"),
                C("finished_on", "date", "实际完成", "Finished on", required=False),
                C("responsible_unit", "string", "责任单位", "Responsible unit"),
            ),
        ),
        Table(
            "remediation_events", "阶段记录", "Stage history", "project_id",
            (
                C("project_id", "string", "项目编号", "Project ID"),
                C("stage", "string", "阶段", "Stage", STAGE),  # type: ignore[arg-type]
                C("entered_on", "date", "进入日期", "Entered on"),
            ),
        ),
        Table(
            "firms", "企业", "Firms", "firm_id",
            (
                C("firm_id", "string", "企业编号", "Firm ID"),
                C("uscc", "string", "统一社会信用代码", "Credit code (USCC)", sensitive=True),
                C("name", "string", "企业名称", "Firm name", sensitive=True),
                C("industry", "string", "行业", "Industry", INDUSTRY),
                C("park_id", "string", "园区编号", "Park ID", required=False),
                C("parcel_id", "string", "地块编号", "Parcel ID", required=False),
                C("village_code", "string", "所属村居", "Village"),
                C("grid_id", "string", "网格编号", "Grid ID"),
                C("risk_level", "string", "风险等级", "Risk level", RISK_LEVEL),
                C("listed_on", "date", "列入日期", "Listed on", required=False),
                C("list_reason", "string", "列入原因", "Reason listed", required=False),
                C("list_status", "string", "处置状态", "List status", LIST_STATUS, required=False),
                GEOM_POINT,
            ),
            "Point",
        ),
        Table(
            "inspections", "巡查记录", "Inspections", "inspection_id",
            (
                C("inspection_id", "string", "巡查编号", "Inspection ID"),
                C("firm_id", "string", "企业编号", "Firm ID"),
                C("inspected_on", "date", "巡查日期", "Inspected on"),
                C("grid_id", "string", "网格编号", "Grid ID"),
                C("inspector", "string", "巡查人员", "Inspector", sensitive=True),
                C("category", "string", "巡查类别", "Category", INSPECTION_CATEGORY),
                C("outcome", "string", "巡查结果", "Outcome", INSPECTION_OUTCOME),
            ),
        ),
        Table(
            "targets", "年度目标", "Annual targets", "year",
            (
                C("year", "int", "年度", "Year"),
                C("metric", "string", "指标", "Metric", TARGET_METRIC),
                C("value", "float", "目标值", "Target"),
            ),
        ),
    )
}

TABLE_NAMES = tuple(TABLES)


def table(name: str) -> Table:
    """The table called name; ValueError (not KeyError) so CLI and import report it cleanly."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; known tables: {', '.join(TABLE_NAMES)}") from None


# Columns that queries derive by joining tables (labels for table headers and exports).
DERIVED_LABELS: dict[str, tuple[str, str]] = {
    "park_name": ("园区名称", "Park name"),
    "village_zh": ("村居名称", "Village name"),
    "village_en": ("村居英文名", "Village (en)"),
    "firm_name": ("企业名称", "Firm name"),
    "grid_name": ("网格名称", "Grid name"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
}


def column_label(table_name: str, column: str, lang: str = "zh") -> str:
    """The header for column of table_name in lang; derived columns have labels too."""
    try:
        return table(table_name).column(column).label(lang)
    except (KeyError, ValueError):
        zh_en = DERIVED_LABELS.get(column)
        if zh_en is None:
            return column
        return zh_en[0] if lang == "zh" else zh_en[1]


def enum_for(table_name: str, column: str) -> Enum | None:
    try:
        col = table(table_name).column(column)
    except KeyError:
        return None
    enum = col.enum
    if isinstance(enum, _StageEnum):
        return stage_catalogue().as_enum()
    return enum
