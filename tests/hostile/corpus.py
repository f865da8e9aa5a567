"""Bad and hostile import files, each built in a temporary folder from a few lines of code.

Every case names the table it is offered to, the options, and a piece of the message the refusal
must carry. Shapes come from the demo dataset so only the one thing under test is wrong.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from dayuan_geo.dataset import files as dataset
from dayuan_geo.ingest.read import Limits
from dayuan_geo.uscc import uscc_check_char


@dataclass
class Sample:
    """Valid building blocks taken from the demo dataset."""

    parcel: dict  # a parcel row with shapely geometry
    firm: dict
    park_id: str
    lonlat: tuple[float, float]  # a point inside the street

    @classmethod
    def of(cls, directory: Path) -> Sample:
        parcels = gpd.read_parquet(dataset.table_path(directory, "parcels")).drop(columns="bbox", errors="ignore")
        firms = gpd.read_parquet(dataset.table_path(directory, "firms")).drop(columns="bbox", errors="ignore")
        p = parcels.iloc[0].to_dict()
        f = firms.iloc[0].to_dict()
        pt = p["geometry"].representative_point()
        return cls(p, f, str(p["park_id"]), (pt.x, pt.y))


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


def parcel_rows(s: Sample, n: int = 2, **changes) -> gpd.GeoDataFrame:
    rows = []
    for i in range(n):
        r = dict(s.parcel)
        r["parcel_id"] = f"BAD-{i:03d}"
        r["release_status"] = "not_started"
        r["released_on"] = None
        r["geometry"] = shapely.affinity.translate(s.parcel["geometry"], 0.0005 * i, 0)
        rows.append(r)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    for col, values in changes.items():
        frame[col] = values
    return frame


def firm_csv_rows(s: Sample, n: int = 2) -> pd.DataFrame:
    lon, lat = s.lonlat
    return pd.DataFrame({
        "企业编号": [f"FBAD{i}" for i in range(n)],
        "企业名称": [f"测试企业{i}" for i in range(n)],
        "统一社会信用代码": [uscc(f"91440111MA5{i:02d}ABCD") for i in range(n)],
        "行业": ["快递"] * n,
        "风险等级": ["黑榜"] * n,
        "经度": [lon + 0.0001 * i for i in range(n)],
        "纬度": [lat] * n,
    })


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path, driver="GeoJSON")
    return path


def _csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    return path


def _zip(path: Path, members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _shapefile_members(frame: gpd.GeoDataFrame, work: Path, *, encoding: str = "UTF-8", prj: bool = True,
                       drop: tuple[str, ...] = ()) -> dict[str, bytes]:
    work.mkdir(parents=True, exist_ok=True)
    shp = work / "parcels.shp"
    pyogrio.write_dataframe(frame, shp, encoding=encoding)
    out = {}
    for f in work.iterdir():
        if f.suffix.lower() in drop or (f.suffix.lower() == ".prj" and not prj):
            continue
        out[f.name] = f.read_bytes()
    return out


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    return buf.getvalue()


def _xlsx_with(members: dict[str, bytes]) -> dict[str, bytes]:
    base = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                               b'content-types"></Types>',
    }
    base.update(members)
    return base


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets>
<sheet name="&lol9;" sheetId="1"/></sheets></workbook>"""


@dataclass
class Case:
    id: str
    build: Callable[[Path, Sample], Path]
    expect: str  # a piece of the refusal message
    table: str = "parcels"
    options: dict = field(default_factory=dict)


def _symlink_zip(d: Path, s: Sample) -> Path:
    path = d / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("parcels.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def _encrypted_zip(d: Path, s: Sample) -> Path:
    """A member flagged as encrypted (bit 0 of the general purpose flags, local and central headers)."""
    path = _zip(d / "secret.zip", {"parcels.shp": b"x" * 100}, compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _bomb(d: Path, s: Sample) -> Path:
    return _zip(d / "bomb.zip", {"parcels.shp": b"\0" * (30 * 2**20), "parcels.dbf": b"", "parcels.shx": b""})


def _many_members(d: Path, s: Sample) -> Path:
    return _zip(d / "many.zip", {f"f{i}.txt": b"" for i in range(6000)})


def _lying_zip(d: Path, s: Sample) -> Path:
    """A member whose header claims a few bytes but that inflates to megabytes."""
    path = _zip(d / "liar.zip", {"parcels.shp": b"\0" * (2 * 2**20), "parcels.shx": b"", "parcels.dbf": b""})
    data = bytearray(path.read_bytes())
    # patch the uncompressed size of the first member in both the local and the central header
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
    real = info.file_size.to_bytes(4, "little")
    fake = (100).to_bytes(4, "little")
    data = data.replace(real, fake)
    path.write_bytes(bytes(data))
    return path


def _shp_zip(d: Path, s: Sample, **kw) -> Path:
    frame = kw.pop("frame", None)
    frame = frame if frame is not None else parcel_rows(s)
    members = _shapefile_members(frame, d / "shp", **kw)
    return _zip(d / "parcels.zip", members)


def _projected_no_prj(d: Path, s: Sample) -> Path:
    frame = parcel_rows(s).to_crs("EPSG:4547")
    return _shp_zip(d, s, frame=frame, prj=False)


def _unknown_cpg(d: Path, s: Sample) -> Path:
    members = _shapefile_members(parcel_rows(s), d / "shp")
    members["parcels.cpg"] = b"KLINGON-8"
    return _zip(d / "parcels.zip", members)


def _two_layers(d: Path, s: Sample) -> Path:
    path = d / "two.gpkg"
    parcel_rows(s).to_file(path, layer="a")
    parcel_rows(s).to_file(path, layer="b", mode="a")
    return path


def _fake_gpkg(d: Path, s: Sample) -> Path:
    path = d / "broken.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    return path


def _truncated_geojson(d: Path, s: Sample) -> Path:
    path = _write_geojson(parcel_rows(s), d / "cut.geojson")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return path


def _empty_geojson(d: Path, s: Sample) -> Path:
    path = d / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    return path


def _big_geojson(d: Path, s: Sample) -> Path:
    return _write_geojson(parcel_rows(s, 40), d / "big.geojson")


def _vertex_heavy(d: Path, s: Sample) -> Path:
    circle = shapely.Point(*s.lonlat).buffer(0.001, quad_segs=200)
    return _write_geojson(parcel_rows(s, 1, geometry=[circle]), d / "dense.geojson")


def _many_vertices(d: Path, s: Sample) -> Path:
    circles = [shapely.Point(s.lonlat[0] + 0.003 * i, s.lonlat[1]).buffer(0.001, quad_segs=30) for i in range(4)]
    return _write_geojson(parcel_rows(s, 4, geometry=circles), d / "dense.geojson")


def _truncated_parquet(d: Path, s: Sample) -> Path:
    path = d / "cut.parquet"
    parcel_rows(s).to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[:200] + data[-8:])
    return path


def _parquet_rows(d: Path, s: Sample) -> Path:
    path = d / "many.parquet"
    parcel_rows(s, 30).to_parquet(path)
    return path


def _bad_xlsx(d: Path, s: Sample) -> Path:
    return _zip(d / "broken.xlsx", _xlsx_with({"xl/workbook.xml": b"<workbook><not closed", "xl/x.xml": b""}))


def _laughs_xlsx(d: Path, s: Sample) -> Path:
    return _zip(d / "laughs.xlsx", _xlsx_with({"xl/workbook.xml": BILLION_LAUGHS,
                                                "_rels/.rels": b"<?xml version='1.0'?><Relationships/>"}))


def _zip_as_xlsx(d: Path, s: Sample) -> Path:
    return _zip(d / "ledger.xlsx", {"readme.txt": b"hello"})


def _xlsx_as_zip(d: Path, s: Sample) -> Path:
    path = d / "ledger.zip"
    path.write_bytes(_xlsx_bytes(firm_csv_rows(s)))
    return path


def _ledger_xlsx(frame: pd.DataFrame, name: str = "ledger.xlsx"):
    def build(d: Path, s: Sample) -> Path:
        path = d / name
        path.write_bytes(_xlsx_bytes(frame))
        return path
    return build


def _firms_csv(change: Callable[[pd.DataFrame, Sample], pd.DataFrame], name: str = "firms.csv",
               encoding: str = "utf-8-sig"):
    def build(d: Path, s: Sample) -> Path:
        return _csv(change(firm_csv_rows(s), s), d / name, encoding)
    return build


def _parcels_geojson(change: Callable[[gpd.GeoDataFrame, Sample], gpd.GeoDataFrame], n: int = 2):
    def build(d: Path, s: Sample) -> Path:
        return _write_geojson(change(parcel_rows(s, n), s), d / "parcels.geojson")
    return build


def _set(**values):
    def change(frame, s):
        frame = frame.copy()
        for col, v in values.items():
            frame[col] = v(s) if callable(v) else v
        return frame
    return change


def _raw(name: str, data: bytes):
    def build(d: Path, s: Sample) -> Path:
        path = d / name
        path.write_bytes(data)
        return path
    return build


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
SMALL = Limits(max_bytes=20_000, max_features=10, max_feature_vertices=300, max_vertices=400,
               max_unzipped_bytes=5 * 2**20)


def _swap(frame, s):
    frame = frame.copy()
    frame["经度"], frame["纬度"] = frame["纬度"].copy(), frame["经度"].copy()
    return frame


def _beijing(frame, s):
    return frame.assign(经度=116.40, 纬度=39.91)


def _projected_csv(frame, s):
    return frame.assign(经度=38_500_000.0, 纬度=2_570_000.0)


def _no_id(frame, s):
    frame = frame.copy()
    frame.loc[0, "企业编号"] = ""
    return frame


def _dup_id(frame, s):
    return frame.assign(企业编号="FDUP")


def _existing_id(frame, s):
    return frame.assign(企业编号=str(s.firm["firm_id"]))


def _xfd_xlsx(d: Path, s: Sample) -> Path:
    """20,000 rows with a cell in column A and one in XFD (the last column): some 200 KB that a reader
    padding every row to the sheet's width turns into 327 million cells."""
    rows = "".join(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>x</t></is></c><c r="XFD{i}"><v>1</v></c></row>'
                   for i in range(1, 20_001))
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    return _zip(d / "ledger.xlsx", {
        "[Content_Types].xml": (
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            b'<Default Extension="xml" ContentType="application/xml"/>'
            b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            b'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (f'<?xml version="1.0"?><Relationships xmlns="{rel[:-len("relationships")]}package/2006/'
                        f'relationships"><Relationship Id="r1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
                        '</Relationships>').encode(),
        "xl/workbook.xml": (f'<?xml version="1.0"?><workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
                            '<sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>').encode(),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ).encode(),
        "xl/worksheets/sheet1.xml": (f'<?xml version="1.0"?><worksheet xmlns="{ns}"><dimension ref="A1:XFD20000"/>'
                                     f'<sheetData>{rows}</sheetData></worksheet>').encode(),
    })


def _recursive_view_gpkg(d: Path, s: Sample) -> Path:
    """A GeoPackage whose only layer is a recursive SQL view that never ends."""
    import sqlite3

    path = d / "parcels.gpkg"
    parcel_rows(s, 1).to_file(path, layer="src", driver="GPKG")
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE VIEW parcels AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
            SELECT n AS fid, (SELECT geom FROM src LIMIT 1) AS geom, 'x' AS name FROM r;
        UPDATE gpkg_contents SET table_name = 'parcels', identifier = 'parcels' WHERE table_name = 'src';
        UPDATE gpkg_geometry_columns SET table_name = 'parcels' WHERE table_name = 'src';
        DELETE FROM gpkg_ogr_contents;
    """)
    con.commit()
    con.close()
    return path


CASES: list[Case] = [
    # archives
    Case("zip-dotdot", lambda d, s: _zip(d / "a.zip", {"../evil.shp": b"x", "ok.txt": b"x"}), "outside the archive"),
    Case("zip-dotdot-deep", lambda d, s: _zip(d / "a.zip", {"shp/../../evil.dbf": b"x"}), "outside the archive"),
    Case("zip-absolute", lambda d, s: _zip(d / "a.zip", {"/etc/cron.d/evil": b"x"}), "absolute path"),
    Case("zip-drive", lambda d, s: _zip(d / "a.zip", {"C:/Windows/evil.shp": b"x"}), "absolute path"),
    Case("zip-backslash", lambda d, s: _zip(d / "a.zip", {"..\\..\\evil.shp": b"x"}), "outside the archive"),
    Case("zip-symlink", _symlink_zip, "symbolic link"),
    Case("zip-encrypted", _encrypted_zip, "encrypted"),
    Case("zip-bomb-ratio", _bomb, "zip bomb"),
    Case("zip-bomb-total", _bomb, "expands to", options={"limits": Limits(max_unzipped_bytes=2**20, max_ratio=1e9)}),
    Case("zip-too-many-members", _many_members, "members"),
    Case("zip-lying-header", _lying_zip, "ZIP archive member"),
    Case("zip-no-shapefile", lambda d, s: _zip(d / "a.zip", {"notes.txt": b"hello"}), "no shapefile"),
    Case("zip-two-shapefiles", lambda d, s: _zip(d / "a.zip", {
        **{f"a/{k}": v for k, v in _shapefile_members(parcel_rows(s), d / "s1").items()},
        **{f"b/{k}": v for k, v in _shapefile_members(parcel_rows(s), d / "s2").items()}}), "several shapefiles"),
    Case("zip-shp-without-dbf", lambda d, s: _shp_zip(d, s, drop=(".dbf",)), "lacks its .dbf"),
    Case("zip-broken", _raw("broken.zip", b"PK\x03\x04" + b"\x00" * 50), "broken ZIP"),
    Case("zip-holding-xlsx", _xlsx_as_zip, "Excel workbook renamed"),
    Case("shp-unknown-cpg", _unknown_cpg, "unknown encoding"),
    Case("shp-projected-without-prj", _projected_no_prj, "--crs EPSG:4547"),
    # spoofed and unsupported
    Case("geojson-is-zip", _raw("x.geojson", b"PK\x03\x04" + b"\x00" * 100), "holds a ZIP archive"),
    Case("gpkg-is-json", _raw("x.gpkg", b'{"type": "FeatureCollection"}'), "holds JSON text"),
    Case("csv-is-png", _raw("x.csv", PNG), "holds binary data"),
    Case("xlsx-is-text", _raw("x.xlsx", "地块编号,名称\n1,2\n".encode()), "holds plain text"),
    Case("parquet-is-text", _raw("x.parquet", b"hello,world\n"), "holds plain text"),
    Case("geoparquet-is-sqlite", _raw("x.geoparquet", b"SQLite format 3\x00" + b"\0" * 100), "SQLite"),
    Case("exe", _raw("setup.exe", b"MZ\x90\x00"), "unsupported file type"),
    Case("bare-shp", _raw("parcels.shp", b"\x00\x00\x27\x0a" + b"\0" * 96), "as one .zip"),
    Case("empty", _raw("x.csv", b""), "empty"),
    # sizes
    Case("too-many-bytes", _big_geojson, "bytes; at most", options={"limits": SMALL}),
    Case("too-many-features", _parquet_rows, "at most 10", options={"limits": SMALL}),
    Case("feature-too-many-vertices", _vertex_heavy, "per feature",
         options={"limits": Limits(max_feature_vertices=300)}),
    Case("file-too-many-vertices", _many_vertices, "vertices; at most", options={"limits": Limits(max_vertices=400)}),
    Case("csv-too-many-rows", _firms_csv(lambda f, s: pd.concat([f] * 8)), "rows", table="firms",
         options={"limits": SMALL}),
    # broken content
    Case("xlsx-broken-xml", _bad_xlsx, "broken Excel"),
    Case("xlsx-billion-laughs", _laughs_xlsx, "broken Excel"),
    Case("xlsx-not-a-workbook", _zip_as_xlsx, "not an Excel workbook"),
    Case("xlsx-bomb", lambda d, s: _zip(d / "bomb.xlsx", _xlsx_with({
        "xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b" " * (40 * 2**20)})), "zip bomb"),
    Case("gpkg-garbage", _fake_gpkg, "not a readable GeoPackage"),
    Case("xlsx-cells-in-column-xfd", _xfd_xlsx, "16384 columns", table="firms"),
    Case("gpkg-recursive-view", _recursive_view_gpkg, "time limit", options={"limits": Limits(max_seconds=4)}),
    Case("memory-limit", lambda d, s: _write_geojson(parcel_rows(s, 3000), d / "many.geojson"), "memory limit",
         options={"limits": Limits(max_memory=4 * 2**20)}),
    Case("gpkg-two-layers", _two_layers, "several layers"),
    Case("geojson-truncated", _truncated_geojson, "not a readable GeoJSON"),
    Case("geojson-no-features", _empty_geojson, "no rows"),
    Case("parquet-truncated", _truncated_parquet, "not a readable Parquet"),
    Case("csv-ragged", _raw("x.csv", "企业编号,企业名称\n1,2,3,4\n5\n\"unclosed\n".encode()), "CSV", table="firms"),
    Case("csv-no-geometry-columns", _firms_csv(lambda f, s: f.drop(columns=["经度", "纬度"])), "no geometry",
         table="firms"),
    # coordinates
    Case("csv-latlon-swapped", _firms_csv(_swap), "swapped", table="firms"),
    Case("csv-outside-guangzhou", _firms_csv(_beijing), "outside Guangzhou", table="firms"),
    Case("csv-projected-no-crs", _firms_csv(_projected_csv), "--crs EPSG:4547", table="firms"),
    Case("csv-lon-not-number", _firms_csv(_set(经度="东经113度")), "not numbers", table="firms"),
    Case("crs-conflict", lambda d, s: (lambda p: (parcel_rows(s).to_crs(4547).to_file(p), p)[1])(d / "x.gpkg"),
         "leave --crs out", options={"crs": "EPSG:4326"}),
    Case("crs-nonsense", _parcels_geojson(lambda f, s: f), "not a coordinate system", options={"crs": "Mars-2000"}),
    Case("gcj02-on-projected", lambda d, s: (lambda p: (parcel_rows(s).to_crs(4547).to_file(p), p)[1])(d / "x.gpkg"),
         "leave --crs out", options={"crs": "gcj02"}),
    # geometry
    Case("geometry-unrepairable", _parcels_geojson(_set(geometry=lambda s: [shapely.Polygon(
        [(113.30, 23.2), (113.31, 23.2), (113.32, 23.2), (113.30, 23.2)])] * 2)), "cannot be repaired"),
    Case("geometry-point-for-parcel", _parcels_geojson(_set(geometry=lambda s: [shapely.Point(*s.lonlat)] * 2)),
         "needs a polygon"),
    Case("geometry-missing", _parcels_geojson(_set(geometry=[None, None])), "no geometry"),
    # values
    Case("unknown-enum", _parcels_geojson(_set(release_status=["已释放了", "搬迁中"])), "unknown value"),
    Case("skip-invalid-but-all-bad", _parcels_geojson(_set(release_status=["已释放了", "搬迁中"])),
         "no row of the file",
         options={"skip_invalid": True}),
    Case("unknown-land-use", _parcels_geojson(_set(current_use=["W9", "W1"])), "unknown value"),
    Case("impossible-date", _parcels_geojson(_set(release_status="released", released_on="2025-02-30")),
         "impossible date"),
    Case("ancient-date", _parcels_geojson(_set(release_status="released", released_on="1900-01-01")),
         "impossible date"),
    Case("future-date", _parcels_geojson(_set(release_status="released", released_on="2099-01-01")),
         "in the future"),
    Case("released-without-date", _parcels_geojson(_set(release_status="已释放")), "release date"),
    Case("bad-credit-code", _firms_csv(_set(统一社会信用代码="91440111MA5XXXXXX1")), "check digit", table="firms"),
    Case("short-credit-code", _firms_csv(_set(统一社会信用代码="9144011")), "not 18", table="firms"),
    Case("credit-code-letters", _firms_csv(_set(统一社会信用代码="91440111MA5O0ABCDI")), "not allowed", table="firms"),
    Case("missing-id", _firms_csv(_no_id), "missing id", table="firms"),
    Case("duplicate-id", _firms_csv(_dup_id), "duplicate id", table="firms"),
    Case("id-already-there", _firms_csv(_existing_id), "already in firms", table="firms"),
    Case("unknown-park", _parcels_geojson(_set(park_id="P99999")), "not in parks"),
    Case("unknown-firm", _ledger_xlsx(pd.DataFrame({
        "巡查编号": ["IX1"], "企业编号": ["F9999999"], "巡查日期": ["2025-05-01"], "网格编号": ["201-001-001"],
        "巡查人员": ["张三"], "巡查类别": ["消防安全"], "巡查结果": ["合格"]})), "not in firms", table="inspections"),
    Case("unknown-outcome", _ledger_xlsx(pd.DataFrame({
        "巡查编号": ["IX1"], "企业编号": ["F0001226"], "巡查日期": ["2025-05-01"], "网格编号": ["201-001-001"],
        "巡查人员": ["张三"], "巡查类别": ["消防安全"], "巡查结果": ["还行"]})), "unknown value", table="inspections"),
    Case("required-column-absent", _parcels_geojson(lambda f, s: f.drop(columns=["name"])), "is required"),
    Case("bool-not-yes-no", _ledger_xlsx(pd.DataFrame({
        "园区编号": ["PX1"], "园区名称": ["测试园"], "所属村居": ["440111021201"], "已建党组织": ["也许"],
        "微型消防站": ["是"], "wkt": ["POLYGON ((113.30 23.24, 113.301 23.24, 113.301 23.241, 113.30 23.24))"]})),
         "not yes/no", table="parks"),
    Case("wkt-garbage", _ledger_xlsx(pd.DataFrame({
        "园区编号": ["PX1"], "园区名称": ["测试园"], "所属村居": ["440111021201"], "已建党组织": ["否"],
        "微型消防站": ["是"], "wkt": ["POLYGON ((113.30 23.24, oops"]})), "not WKT", table="parks"),
    # options and rights
    Case("map-unknown-target", _parcels_geojson(lambda f, s: f), "has no column",
         options={"mapping": {"nope": "name"}}),
    Case("map-unknown-source", _parcels_geojson(lambda f, s: f), "the file has no column",
         options={"mapping": {"name": "名字"}}),
    Case("viewer-may-not-import", _parcels_geojson(lambda f, s: f), "may not import", options={"role": "viewer"}),
    Case("leader-may-not-import", _parcels_geojson(lambda f, s: f), "may not import", options={"role": "leader"}),
    Case("unknown-mode", _parcels_geojson(lambda f, s: f), "unknown mode", options={"mode": "merge"}),
    Case("unknown-table", _parcels_geojson(lambda f, s: f), "unknown table", table="secrets"),
]
