"""UI text of the import page and of the import report's messages, in Chinese and English.

Kept beside `dayuan_geo.text` (which merges it into TEXT) so `t(key, lang)` is still the one way to
say something; `imp_m_*` are the report's messages, whose English is what the command line prints.
"""

from __future__ import annotations

IMPORT_TEXT: dict[str, tuple[str, str]] = {
    "imp_sum_imported": (
        "已将 {file} 导入{table}，生成版本 v{version}：新增 {added}，修改 {changed}，删除 {removed}",
        "Imported {file} into {table} as version {version}: {added} added, {changed} changed, {removed} removed",
    ),
    "imp_sum_unchanged": (
        "{file} 与{table}现有数据一致，未生成新版本",
        "{file} holds nothing new for {table}: no new version",
    ),
    "imp_sum_checked": (
        "已检查 {file}（仅检查，未写入）：将新增 {added}，修改 {changed}，删除 {removed}",
        "Checked {file} (nothing written): would add {added}, change {changed}, remove {removed}",
    ),
    "imp_sum_refused": (
        "已拒绝 {file}：{errors} 个错误（涉及 {rows}/{read} 行），未导入任何数据",
        "Refused {file}: {errors} error(s) in {rows} of {read} rows; nothing imported",
    ),
    "imp_mapping": ("列对应（可选）", "Column mapping (optional)"),
    "imp_mapping_help": (
        "文件中列名与系统不一致时，每行写一条“系统列=文件列”，如 current_use=现状用途（与命令行 --map 相同）",
        "When the file names a column differently, one line per column: TARGET=SOURCE, e.g. current_use=现状用途 "
        "(the same as --map on the command line)",
    ),
    "imp_title": ("导入数据文件", "Import a data file"),
    "imp_caption": (
        "支持 GeoJSON、GeoPackage、Shapefile（zip）、File Geodatabase（zip）、CSV、Excel 台账、GeoParquet。"
        "先检查，再确认导入；每次导入都是新版本，可随时恢复。",
        "GeoJSON, GeoPackage, zipped Shapefile or File Geodatabase, CSV, Excel ledgers and GeoParquet. Check "
        "first, then confirm; every import is a new version that can be restored.",
    ),
    "imp_not_allowed": ("只有规划人员可以导入数据。", "Only planners may import data."),
    "imp_file": ("数据文件", "Data file"),
    "imp_table": ("导入到", "Import into"),
    "imp_mode": ("方式", "Mode"),
    "imp_mode_append": ("追加新记录", "Add new rows"),
    "imp_mode_upsert": ("更新或追加", "Update or add"),
    "imp_mode_replace": ("整表替换", "Replace the table"),
    "imp_crs": ("坐标系", "Coordinates"),
    "imp_crs_file": ("按文件（无则 WGS 84）", "From the file (else WGS 84)"),
    "imp_crs_gcj02": ("高德/腾讯 GCJ-02", "AMap/Tencent GCJ-02"),
    "imp_crs_bd09": ("百度 BD-09", "Baidu BD-09"),
    "imp_crs_4547": ("CGCS2000 高斯 114E（EPSG:4547）", "CGCS2000 GK 114E (EPSG:4547)"),
    "imp_skip": ("跳过有错误的行，导入其余", "Skip rows with errors, import the rest"),
    "imp_check": ("检查文件", "Check the file"),
    "imp_confirm": ("确认导入", "Confirm the import"),
    "imp_checking": ("正在检查…", "Checking…"),
    "imp_refused": ("文件未通过检查，未导入任何数据。", "The file did not pass the checks; nothing was imported."),
    "imp_ready": ("检查通过：确认后生成新版本。", "The checks passed: confirm to publish a new version."),
    "imp_unchanged": ("数据已包含这些记录，无需导入。", "The dataset already holds these rows; nothing to import."),
    "imp_done": ("已导入，数据版本 v{version}。", "Imported as dataset version v{version}."),
    "imp_added": ("新增", "Added"),
    "imp_changed": ("修改", "Changed"),
    "imp_removed": ("删除", "Removed"),
    "imp_skipped": ("跳过", "Skipped"),
    "imp_report": ("检查报告（逐行）", "Report, row by row"),
    "imp_no_issues": ("没有发现问题。", "No problems found."),
    "imp_preview": ("变更预览", "What would change"),
    "imp_rows": ("变更的记录", "Rows that change"),
    "imp_history": ("版本历史", "Versions"),
    "imp_restore": ("恢复所选版本", "Restore the chosen version"),
    "imp_restore_pick": ("版本", "Version"),
    "imp_restored": ("已恢复版本 v{old}，现为 v{new}。", "Restored version v{old} as v{new}."),
    "imp_log": ("导入记录", "Import log"),
    "imp_h_version": ("版本", "Version"),
    "imp_h_when": ("时间(UTC)", "When (UTC)"),
    "imp_h_user": ("操作人", "Who"),
    "imp_h_table": ("数据表", "Table"),
    "imp_h_file": ("文件", "File"),
    "imp_h_note": ("说明", "Note"),
    "imp_h_row": ("行", "Row"),
    "imp_h_column": ("字段", "Column"),
    "imp_h_level": ("级别", "Level"),
    "imp_h_message": ("问题", "Problem"),
    "imp_level_error": ("错误", "Error"),
    "imp_level_repaired": ("已修复", "Repaired"),
    "imp_level_warning": ("提示", "Note"),
    "imp_sheet": ("工作表（Excel，可选）", "Sheet (Excel, optional)"),
    "imp_header_row": ("表头所在行（0 = 自动识别）", "Header row (0 = find it)"),
    "imp_constants": ("统一取值（可选）", "Constant values (optional)"),
    "imp_constants_help": (
        "文件缺少某列时，每行写一条“系统列=取值”，所有记录取同一值，如 ownership=集体（与命令行 --set 相同）",
        "When the file lacks a column, one line per column: COLUMN=VALUE gives every row that value, e.g. "
        "ownership=collective (the same as --set on the command line)",
    ),
    "imp_cascade": (
        "整表替换时一并删除引用被删记录的下级数据",
        "On replace, also remove rows that point at removed rows",
    ),
    "imp_crs_hint": (
        "来自高德/DataV 的文件多为 GCJ-02：请选“高德/腾讯 GCJ-02”。",
        "Files from AMap or DataV are usually GCJ-02: choose “AMap/Tencent GCJ-02”.",
    ),
    "imp_assumed": (
        "读取方式：格式 {fmt}；坐标 {crs}；编码 {encoding}；工作表 {sheet}；读取 {rows} 行",
        "Read as: format {fmt}; coordinates {crs}; text {encoding}; sheet {sheet}; {rows} rows read",
    ),
    "imp_suggest_upsert": (
        "文件中 {n} 条记录已存在。如要用文件更新它们，请将“方式”改为“更新或追加”后重新检查。",
        "{n} rows of the file are already in the table. To update them from the file, choose "
        "“Update or add” as the mode and check again.",
    ),
    "imp_nothing_changes": (
        "文件与现有数据一致：无需导入，也无需确认。",
        "The file matches the data already held: nothing to import or confirm.",
    ),
    "imp_geometry": ("（几何）", "(geometry)"),
    "imp_restore_failed": ("未能恢复：{reason}", "Could not restore: {reason}"),
    "imp_diff": ("修改前后对比", "Before and after"),
    "imp_h_key": ("编号", "ID"),
    "imp_h_before": ("修改前", "Before"),
    "imp_h_after": ("修改后", "After"),
    "imp_confirm_ask": (
        "确认后将生成新的数据版本（新增 {added}，修改 {changed}，删除 {removed}）。",
        "Confirming publishes a new dataset version ({added} added, {changed} changed, {removed} removed).",
    ),
    # ---- the report's messages ----
    "imp_m_set_refused": (
        "同批导入的其他文件未通过检查：整批未导入",
        "another file of the set was refused: nothing imported",
    ),
    "imp_m_geom_none": ("没有几何", "no geometry"),
    "imp_m_geom_needs_point": ("{gtype} 几何，{table} 需要点", "{gtype} where {table} needs a point"),
    "imp_m_geom_needs_polygon": ("{gtype} 几何，{table} 需要面", "{gtype} where {table} needs a polygon"),
    "imp_m_geom_vertices": ("{n} 个顶点，每个要素最多 {limit} 个", "{n} vertices; at most {limit} per feature"),
    "imp_m_geom_not_finite": ("坐标不是有效数字", "coordinates are not finite numbers"),
    "imp_m_geom_unrepairable": (
        "几何无效（{reason}），无法修复",
        "invalid geometry ({reason}) that cannot be repaired",
    ),
    "imp_m_geom_repaired": ("几何无效（{reason}），已自动修复", "invalid geometry ({reason}) repaired with make_valid"),
    "imp_m_geom_swapped": (
        "位置 ({x}, {y}) 在广州以外：经纬度似乎写反了（请在“列对应”中对调 lon/lat）",
        "outside Guangzhou at ({x}, {y}); latitude and longitude look swapped (map them with --map lon=… --map lat=…)",
    ),
    "imp_m_geom_outside_guangzhou": (
        "位置 ({x}, {y}) 在广州以外：请检查坐标系",
        "outside Guangzhou at ({x}, {y}); check the coordinate system (--crs)",
    ),
    "imp_m_crs_nonsense": (
        "“{text}”不是坐标系",
        "--crs {text!r} is not a coordinate system; use an EPSG code (EPSG:4547, EPSG:4326), gcj02 or bd09",
    ),
    "imp_m_projected_no_crs": (
        "坐标如 ({x}, {y}) 是投影坐标，但文件未写明坐标系：请选择坐标系，如 CGCS2000 高斯 114E（EPSG:4547）",
        "coordinates such as ({x}, {y}) are projected, but the file names no coordinate system; name it with "
        "--crs, e.g. --crs EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E, Guangzhou planning) or --crs "
        "EPSG:4526 (the same with zone number)",
    ),
    "imp_m_not_wkt": ("不是 WKT 几何：{value}", "not WKT geometry: {value!r}"),
    "imp_m_lonlat_not_numbers": ("经纬度不是数字：{x}, {y}", "coordinates are not numbers: {x!r}, {y!r}"),
    "imp_m_no_geometry_columns": (
        "没有几何：文件需要“经度/纬度”两列或一列 WKT（可在“列对应”中写 lon=列名、lat=列名 或 wkt=列名）",
        "no geometry: the file needs lon/lat columns (经度/纬度) or a WKT column (map them with --map lon=COLUMN "
        "--map lat=COLUMN or --map wkt=COLUMN)",
    ),
    "imp_m_not_readable": ("不是可读取的 {fmt} 文件（{reason}）", "not a readable {fmt} ({reason})"),
    "imp_m_several_layers": (
        "{fmt} 含多个图层（{layers}）",
        "{fmt} holds several layers ({layers}); name one with --layer",
    ),
    "imp_m_too_many_bytes": (
        "文件有 {size} 字节，最多接受 {limit} 字节",
        "file is {size} bytes; at most {limit} are accepted",
    ),
    "imp_m_bare_shp": (
        "请把 Shapefile 的 .shp、.shx、.dbf、.prj、.cpg 打包成一个 .zip 上传",
        "upload a shapefile as one .zip holding its .shp, .shx, .dbf, .prj and .cpg files",
    ),
    "imp_m_unsupported": (
        "不支持的文件类型 {suffix}；支持：{formats}",
        "unsupported file type {suffix}; supported: {formats}",
    ),
    "imp_m_empty": ("文件是空的", "file is empty"),
    "imp_m_mislabelled": (
        "文件扩展名为 {suffix}，内容却是{kind}，已拒绝",
        "file is named {suffix} but holds {kind}; refused",
    ),
    "imp_m_shp_lacks": ("Shapefile {name} 缺少 {missing} 文件", "shapefile {name} lacks its {missing} file"),
    "imp_m_zip_no_shapefile": (
        "压缩包中没有 Shapefile（.shp）或 File Geodatabase（.gdb）",
        "archive holds no shapefile (.shp) or File Geodatabase (.gdb)",
    ),
    "imp_m_zip_several_shapefiles": (
        "压缩包中有多个 Shapefile：请每次导入一个",
        "archive holds several shapefiles; send one per import",
    ),
    "imp_m_role": ("当前角色不能导入数据（仅规划人员）", "role {role!r} may not import data (planners only)"),
    "imp_m_already_in": (
        "编号 {id} 已在{table}中（要更新请选“更新或追加”）",
        "id {id!r} is already in {table} (use --mode upsert to update it)",
    ),
    "imp_m_area_differs": (
        "文件中面积为 {given} ㎡，按几何量算为 {measured} ㎡（已存量算值）",
        "file says area {given} m², the geometry measures {measured} m² (stored)",
    ),
    "imp_m_audit_failed": ("审计记录未能写入（{reason}）", "the audit entry could not be written ({reason})"),
    "imp_m_audit_failed_published": (
        "数据版本 v{version} 已生成并生效，但审计记录未能写入（{reason}）；请通知管理员补记",
        "version {version} WAS published and is current, but its audit entry could not be written ({reason}); "
        "tell the administrator",
    ),
    "imp_m_cascaded": (
        "按要求一并删除了引用被删记录的下级数据：{counts}",
        "as asked (--cascade), rows pointing at removed rows were removed too: {counts}",
    ),
    "imp_m_columns_ignored": ("未导入的列：{names}", "columns not imported: {names}"),
    "imp_m_cpg_unknown": (
        "{file} 写明的编码“{name}”无法识别；请用 UTF-8 或 GBK",
        "{file} names an unknown encoding {name!r}; use UTF-8 or GBK",
    ),
    "imp_m_csv_encoding": ("CSV 既不是 UTF-8 也不是 GBK 编码", "CSV is neither UTF-8 nor GBK text"),
    "imp_m_date_future": ("日期 {value} 晚于今天", "date {value} is in the future"),
    "imp_m_date_too_early": ("日期 {value} 不可能（早于 {earliest}）", "impossible date {value} (before {earliest})"),
    "imp_m_dbf_undecodable": (
        "{file} 的文字既不是 UTF-8 也不是 GBK；请附上 .cpg 文件说明编码",
        "the text of {file} is neither UTF-8 nor GBK; add a .cpg naming its encoding",
    ),
    "imp_m_duplicate_id": ("编号 {id} 重复（另见第 {other} 行）", "duplicate id {id!r} (also row {other})"),
    "imp_m_header_row_blank": (
        "第 {row} 行为空或不存在，不能作为表头",
        "row {row} is blank or absent: it cannot be the header",
    ),
    "imp_m_impossible_date": ("不存在的日期：{value}", "impossible date {value!r}"),
    "imp_m_json_not_geojson": (
        "JSON 中没有要素：应为 FeatureCollection、要素数组、单个要素或几何",
        "the JSON holds no features: expected a FeatureCollection, an array of features, a feature or a geometry",
    ),
    "imp_m_json_unreadable": ("不是可读取的 GeoJSON（{reason}）", "not a readable GeoJSON ({reason})"),
    "imp_m_map_app": (
        "文件未写明坐标系，但看起来来自国内地图应用（{why}），这类数据多为 GCJ-02；已按 WGS 84 读取，"
        "如位置偏移约 500–700 米，请将坐标系选为“高德/腾讯 GCJ-02”",
        "the file names no coordinate system but looks like a Chinese map app's ({why}), which publish GCJ-02; "
        "read as WGS 84. If positions are some 500-700 m off, import with --crs gcj02",
    ),
    "imp_m_memory_limit": (
        "读取文件超出内存上限（{mb} MB），已停止",
        "reading the file hit the memory limit ({mb} MB); stopped",
    ),
    "imp_m_missing_id": ("缺少编号（{ids}）", "missing id ({ids})"),
    "imp_m_no_crs": (
        "文件未写明坐标系，经纬度按 WGS 84 读取（高德/腾讯坐标请将坐标系选为 GCJ-02，百度坐标选 BD-09）",
        "no coordinate system in the file; longitude/latitude taken as WGS 84 (use --crs gcj02 or bd09 for "
        "points from AMap or Baidu)",
    ),
    "imp_m_no_geometry": ("没有几何：新记录必须有几何", "no geometry: a new row needs one"),
    "imp_m_no_geometry_upsert": (
        "文件没有几何：已有记录保留原几何，新记录将被拒绝",
        "no geometry in the file: existing rows keep theirs, new rows are refused",
    ),
    "imp_m_no_rows": ("文件中没有数据行", "the file holds no rows"),
    "imp_m_no_sheet": ("没有名为“{sheet}”的工作表；工作表有：{sheets}", "no sheet {sheet!r}; sheets: {sheets}"),
    "imp_m_no_valid_rows": ("文件中没有一行是无错误的", "no row of the file is free of errors"),
    "imp_m_not_bool": ("不是“是/否”：{value}", "not yes/no: {value!r} (use 是/否)"),
    "imp_m_not_date": ("不是日期：{value}（请写成 YYYY-MM-DD）", "not a date: {value!r} (use YYYY-MM-DD)"),
    "imp_m_not_in_zone": ("不在街道的任何{zones}范围内", "not inside any of the street's {zones}"),
    "imp_m_not_number": ("不是数字：{value}", "not a number: {value!r}"),
    "imp_m_not_whole": ("不是整数：{value}", "not a whole number: {value!r}"),
    "imp_m_orphans": (
        "替换{table}后，以下数据将引用已删除的记录：{counts}。请在同一次导入中一并替换这些表，或勾选“一并删除下级数据”",
        "replacing {table} would leave rows pointing at removed ones: {counts}. Replace those tables too, or "
        "remove them with --cascade",
    ),
    "imp_m_outside_street": (
        "位置 ({x}, {y}) 在街道范围（外扩 {km} 公里）之外",
        "at ({x}, {y}), outside the street (with a {km} km margin)",
    ),
    "imp_m_release_date": ("已释放的地块需要释放日期", "released parcels need a release date (释放日期)"),
    "imp_m_required": ("{label}为必填项", "{label} ({column}) is required"),
    "imp_m_required_absent": (
        "{label}为必填项，文件中没有对应的列：请在“列对应”中写 {name}=文件列",
        "{label} ({name}) is required and the file has no column for it: map one (import page: column mapping "
        "{name}=COLUMN; command line: --map {name}=COLUMN)",
    ),
    "imp_m_set_not_allowed": (
        "{column} 是编号或计算列，不能统一取值",
        "--set {column}: ids and computed columns cannot be set",
    ),
    "imp_m_set_overrides": (
        "{name} 按统一取值导入，文件中的该列未使用",
        "--set {name} replaces the file's column for it",
    ),
    "imp_m_set_unknown_column": (
        "{table} 没有 {column} 列；可用：{columns}",
        "--set {column}: {table} has no such column; columns: {columns}",
    ),
    "imp_m_sheet_empty": ("{sheet} 是空的", "{sheet} is empty"),
    "imp_m_sheet_too_wide": (
        "工作表“{sheet}”有 {n} 列，最多接受 {limit} 列",
        "sheet {sheet!r} spans {n} columns; at most {limit} are accepted",
    ),
    "imp_m_time_limit": (
        "读取文件超过 {seconds} 秒，已停止（文件可能含有无法读完的内容）",
        "reading the file took more than {seconds} s and was stopped (time limit)",
    ),
    "imp_m_too_large": (
        "面积 {km2} 平方公里，超过街道面积 {street} 平方公里的 {share}：像是区界而非地块",
        "area {km2} km² is more than {share} of the street's {street} km²: a boundary, not a parcel",
    ),
    "imp_m_too_many_columns": ("{n} 列，最多接受 {limit} 列", "{n} columns; at most {limit} are accepted"),
    "imp_m_too_many_rows": (
        "行数超过 {limit:,}，请拆分文件",
        "more than {limit:,} rows; at most {limit:,} are accepted",
    ),
    "imp_m_unknown_absent": (
        "文件没有“{label}”列：{n} 行记为“未知”（可在“统一取值”中写 {name}=取值）",
        "the file has no {label} column: {n} rows recorded as Unknown (give one value with --set {name}=VALUE)",
    ),
    "imp_m_unknown_filled": ("“{label}”为空的 {n} 行记为“未知”", "{n} rows with no {label} recorded as Unknown"),
    "imp_m_unknown_reference": ("{table}中没有 {value}", "unknown reference {value!r} (not in {table})"),
    "imp_m_unknown_value": ("无法识别的值“{value}”；可用：{allowed}", "unknown value {value!r}; allowed: {allowed}"),
    "imp_m_unreadable": ("无法读取文件（{reason}）", "could not read the file ({reason})"),
}
