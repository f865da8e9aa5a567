"""Local tile packages: an MBTiles file of raster tiles, unpacked where the app serves them itself.

An intranet deployment that reaches no tile server can still show streets: take a raster MBTiles
package of the area (exported from a GIS or a tile tool), unpack it with
`python -m dayuan_geo basemap unpack FILE.mbtiles --name NAME`, and add the printed source to
`config/dayuan.toml`. Streamlit's static serving (`server.enableStaticServing`, on in
`.streamlit/config.toml`) then serves the tiles at `/app/static/tiles/NAME/{z}/{x}/{y}.png`, from
the app's own address: no outside request at all.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
from pathlib import Path

from dayuan_geo.maps import basemap as B
from dayuan_geo.schema import PROJECT_DIR

STATIC_DIR = PROJECT_DIR / "static"  # Streamlit serves this folder (next to app.py) at /app/static/
TILES_SUBDIR = "tiles"
RASTER_FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}


def read_metadata(path: Path) -> dict[str, str]:
    with _open(path) as con:
        return {str(k): str(v) for k, v in con.execute("SELECT name, value FROM metadata")}


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such tile package")
    try:
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 1").fetchall()
        con.execute("SELECT name, value FROM metadata LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not an MBTiles package ({exc})") from None
    return con


def unpack_mbtiles(path: Path, *, name: str, static_dir: Path = STATIC_DIR) -> dict[str, object]:
    """Write path's tiles as static_dir/tiles/name/z/x/y.EXT (XYZ rows: MBTiles counts rows from
    the south) and return what a config source needs. A previous unpack of name is replaced whole."""
    if not B.SOURCE_NAME.match(name) or name == B.NONE:
        raise ValueError(f"--name: {name!r}: lower-case letters, digits, '-' or '_'")
    meta = read_metadata(path)
    fmt = meta.get("format", "png").lower()
    if fmt not in RASTER_FORMATS:
        raise ValueError(f"{path}: its tiles are {fmt!r}; a raster package (png, jpg or webp) is needed")
    ext = RASTER_FORMATS[fmt]
    root = static_dir / TILES_SUBDIR
    target, staging = root / name, root / f".{name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    count, zooms = 0, set()
    with _open(path) as con:
        for z, x, row, data in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
            z, x, row = int(z), int(x), int(row)
            if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= row < (1 << z)):
                raise ValueError(f"{path}: tile {z}/{x}/{row} is outside its zoom level's grid")
            tile = staging / str(z) / str(x) / f"{(1 << z) - 1 - row}.{ext}"
            tile.parent.mkdir(parents=True, exist_ok=True)
            tile.write_bytes(bytes(data))
            count += 1
            zooms.add(z)
    if not count:
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError(f"{path}: the package holds no tiles")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return {
        "name": name,
        "tiles": count,
        "min_zoom": min(zooms),
        "max_zoom": max(zooms),
        "url": f"/app/static/{TILES_SUBDIR}/{name}/{{z}}/{{x}}/{{y}}.{ext}",
        "attribution": meta.get("attribution", ""),
        "label": meta.get("name", name),
        "directory": str(target),
    }


def config_snippet(info: dict[str, object], *, crs: str = "wgs84", attribution: str | None = None) -> str:
    """The `[basemap.sources.NAME]` table serving an unpacked package."""
    if crs not in B.CRS:
        raise ValueError(f"--crs: {crs!r} is not one of {', '.join(B.CRS)}")
    text = attribution if attribution is not None else str(info["attribution"])
    lines = [
        f"[basemap.sources.{info['name']}]",
        f"label_zh = {json.dumps(str(info['label']), ensure_ascii=False)}",
        f"label_en = {json.dumps(str(info['label']), ensure_ascii=False)}",
        f"url = {json.dumps(str(info['url']))}",
        f'crs = "{crs}"',
        f"attribution = {json.dumps(text, ensure_ascii=False)}",
        f"min_zoom = {info['min_zoom']}",
        f"max_zoom = {info['max_zoom']}",
    ]
    return "\n".join(lines) + "\n"


# ---- command line ------------------------------------------------------------------------------

def _cmd_list(args: argparse.Namespace) -> int:
    settings = B.load()
    for name, bm in settings.sources.items():
        mark = "*" if name == settings.default else " "
        where = "no tiles" if bm.is_none else bm.layers[0][0]
        print(f"{mark} {name:<12} {bm.crs:<6} {bm.label(args.lang)} · {where}")
    for name, why in settings.unavailable.items():
        print(f"  {name:<12} unavailable: {why}")
    for problem in settings.problems:
        print(f"warning: {problem}")
    return 0


def _cmd_unpack(args: argparse.Namespace) -> int:
    info = unpack_mbtiles(Path(args.package), name=args.name, static_dir=Path(args.static_dir))
    snippet = config_snippet(info, crs=args.crs, attribution=args.attribution)
    print(f"{info['tiles']:,} tiles (zoom {info['min_zoom']}–{info['max_zoom']}) written to {info['directory']}")
    print("add this to config/dayuan.toml (and name it in [basemap] offer / default):\n")
    print(snippet, end="")
    return 0


def register(sub) -> None:
    """Adds `basemap list` (the base maps on offer) and `basemap unpack` (a local tile package)."""
    p = sub.add_parser("basemap", help="base maps: list those on offer, unpack a local MBTiles package")
    actions = p.add_subparsers(dest="basemap_action", required=True)
    q = actions.add_parser("list", help="the base maps the sidebar offers (* the default)")
    q.add_argument("--lang", choices=("zh", "en"), default="zh")
    q.set_defaults(handler=_cmd_list)
    q = actions.add_parser("unpack", help="serve a raster MBTiles package from the app itself")
    q.add_argument("package", help="the .mbtiles file")
    q.add_argument("--name", required=True, help="source name, e.g. street")
    q.add_argument("--crs", choices=B.CRS, default="wgs84", help="what the tiles are drawn in")
    q.add_argument("--attribution", help="attribution text (default: the package's own)")
    q.add_argument("--static-dir", default=str(STATIC_DIR), help=argparse.SUPPRESS)
    q.set_defaults(handler=_cmd_unpack)
