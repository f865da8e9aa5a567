"""Import for planners: upload a file, pick the table, read the report and the map of what would
change, then confirm; every import is a new dataset version, and any kept version can be restored."""

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import edge
from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest import read as ingest_read
from dayuan_geo.ingest import run as ingest
from dayuan_geo.ingest import views
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries

lang, role = edge.lang(), edge.role()
st.title(edge.t("imp_title"))
st.caption(edge.t("imp_caption"))
if not access.may_import(role):
    st.error(edge.t("imp_not_allowed"))
    st.stop()

directory = dataset.data_dir()
STATE = "_import_checked"  # the last check: options, saved upload, report, preview, diff
# labels resolved once per run, so a widget's format function never depends on session state
CRS_LABELS = {c: edge.t(k) for c, k in (("", "imp_crs_file"), ("gcj02", "imp_crs_gcj02"), ("bd09", "imp_crs_bd09"),
                                         ("EPSG:4547", "imp_crs_4547"))}
MODE_LABELS = {m: edge.t(f"imp_mode_{m}") for m in ingest.MODES}
TABLE_LABELS = {n: f"{S.table(n).label(lang)} ({n})" for n in S.TABLE_NAMES}
CHANGE_LABELS = {"added": edge.t("imp_added"), "changed": edge.t("imp_changed"), "removed": edge.t("imp_removed")}


def saved_upload(upload) -> Path:
    """The upload in a private temporary folder, under its own base name (sanitised)."""
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"dayuan-upload-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    name = re.sub(r"[^\w.\-]", "_", Path(upload.name).name)[-120:] or "upload"
    path = folder / name
    path.write_bytes(data)
    return path


def discard(options: dict) -> None:
    """Remove the saved upload (only ever a folder saved_upload made)."""
    folder = Path(options["path"]).parent
    if folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("dayuan-upload-"):
        shutil.rmtree(folder, ignore_errors=True)


def run(options: dict, *, dry_run: bool) -> ingest.ImportResult:
    bar = st.progress(0.0, text=edge.t("imp_checking"))
    result = ingest.run_import(
        Path(options["path"]), table=options["table"], directory=directory, user=edge.user_name() or "local",
        role=role, crs=options["crs"] or None, mode=options["mode"], skip_invalid=options["skip"],
        mapping=options.get("mapping") or {}, constants=options.get("constants") or {},
        sheet=options.get("sheet") or None, header_row=options.get("header_row") or None,
        cascade=bool(options.get("cascade")), dry_run=dry_run, display_name=options["name"],
        progress=lambda step, f: bar.progress(min(1.0, f), text=step),
    )
    bar.empty()
    return result


with st.form("import_form"):
    upload = st.file_uploader(edge.t("imp_file"), type=[s.lstrip(".") for s in ingest_read.SUFFIXES])
    c1, c2, c3 = st.columns(3)
    table = c1.selectbox(edge.t("imp_table"), S.TABLE_NAMES, index=S.TABLE_NAMES.index("parcels"),
                         format_func=TABLE_LABELS.get)
    mode = c2.selectbox(edge.t("imp_mode"), ingest.MODES, format_func=MODE_LABELS.get)
    crs = c3.selectbox(edge.t("imp_crs"), list(CRS_LABELS), format_func=CRS_LABELS.get, help=edge.t("imp_crs_hint"))
    c4, c5 = st.columns(2)
    sheet = c4.text_input(edge.t("imp_sheet"), key="import_sheet")
    header_row = c5.number_input(edge.t("imp_header_row"), min_value=0, max_value=1000, step=1, key="import_header")
    mapping_text = st.text_area(edge.t("imp_mapping"), placeholder="current_use=现状\nownership=权属", height=80,
                                help=edge.t("imp_mapping_help"))
    constants_text = st.text_area(edge.t("imp_constants"), placeholder="ownership=集体", height=68,
                                  help=edge.t("imp_constants_help"))
    skip = st.checkbox(edge.t("imp_skip"))
    cascade = st.checkbox(edge.t("imp_cascade"))
    checked = st.form_submit_button(edge.t("imp_check"), type="primary")

try:
    mapping = ingest.parse_mapping(mapping_text.splitlines())
    constants = ingest.parse_constants(constants_text.splitlines())
except ValueError as exc:
    mapping, constants, checked = {}, {}, False
    st.error(str(exc))
if checked and upload is not None:
    options = {"path": str(saved_upload(upload)), "name": Path(upload.name).name, "table": table, "mode": mode,
               "crs": crs, "skip": skip, "mapping": mapping, "constants": constants, "sheet": sheet.strip(),
               "header_row": int(header_row), "cascade": cascade}
    result = run(options, dry_run=True)
    st.session_state[STATE] = {"options": options, "report": result.report, "preview": result.preview,
                               "diff": result.diff}
    if result.report.status != "checked":
        discard(options)

state = st.session_state.get(STATE)
if state:
    report: ingest.Report = state["report"]
    options = state["options"]
    changes = report.added + report.changed + report.removed
    if report.status == "refused":
        st.error(edge.t("imp_refused"))
    elif report.status == "unchanged":
        st.info(edge.t("imp_nothing_changes"))
    elif report.status == "imported":
        st.success(edge.t("imp_done", version=report.version))
    else:
        st.success(edge.t("imp_ready"))
    if report.status == "refused" and options["mode"] == "append" and views.already_there(report):
        st.info(edge.t("imp_suggest_upsert", n=views.already_there(report)))
    table_label = TABLE_LABELS.get(report.table, report.table)
    st.text(edge.t(f"imp_sum_{report.status}", file=report.file, table=table_label, version=report.version,
                   added=report.added, changed=report.changed, removed=report.removed, errors=len(report.errors),
                   rows=len(report.error_rows), read=report.rows_read))  # plain text: the file name is the uploader's
    if report.fmt:
        st.text(views.assumed(report, lang))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(edge.t("imp_added"), f"{report.added:,}")
    m2.metric(edge.t("imp_changed"), f"{report.changed:,}")
    m3.metric(edge.t("imp_removed"), f"{report.removed:,}")
    m4.metric(edge.t("imp_skipped"), f"{len(report.error_rows) if options['skip'] else 0:,}")

    st.subheader(edge.t("imp_report"))
    if report.issues:
        st.dataframe(views.issues_table(report, lang), hide_index=True, width="stretch", key="import_report")
    else:
        st.caption(edge.t("imp_no_issues"))

    preview = state["preview"]
    if preview is not None and len(preview) and report.status != "refused":
        st.subheader(edge.t("imp_preview"))
        tbl = S.table(report.table)
        if tbl.has_geometry:
            villages = edge.query(queries.outlines, table_name="villages")
            layers = [
                maps.outline_layer(edge.query(queries.outlines, table_name="parks"), layer_id="park-outlines",
                                   color=maps.PARK_LINE, width_px=1),
                maps.outline_layer(villages, layer_id="village-outlines"),
                maps.label_layer(villages, lang=lang, layer_id="village-labels"),
                maps.changes_layer(preview, labels=CHANGE_LABELS, key=ingest.key_columns(report.table)[0],
                                   name_col="name" if "name" in tbl.column_names else None,
                                   point=tbl.geometry_type == "Point"),
            ]
            center, zoom = ingest.preview_view(preview) or (edge.query(queries.view_center), 12.3)
            st.pydeck_chart(maps.deck(layers, center=center, zoom=zoom), height=480, key="import_map")
            st.markdown(maps.legend_html([(CHANGE_LABELS[c], maps.CHANGE_COLORS[c]) for c in CHANGE_LABELS]),
                        unsafe_allow_html=True)
        diff = state.get("diff")
        if diff is not None and len(diff):
            st.caption(edge.t("imp_diff"))
            st.dataframe(views.diff_table(diff.head(2_000), report.table, lang), hide_index=True, width="stretch",
                         key="import_diff")
        st.dataframe(views.rows_table(preview.head(2_000), report.table, lang), hide_index=True, width="stretch",
                     key="import_rows")

    if report.status == "checked" and changes:
        st.info(edge.t("imp_confirm_ask", added=report.added, changed=report.changed, removed=report.removed))
        if st.button(edge.t("imp_confirm"), type="primary", key="import_confirm"):
            result = run(options, dry_run=False)  # the operation writes its own audit entry
            state["report"], state["diff"] = result.report, result.diff
            discard(options)
            st.rerun()

st.divider()
st.subheader(edge.t("imp_history"))
if st.session_state.get("_import_restored"):
    st.success(st.session_state.pop("_import_restored"))
history = pd.DataFrame(versions.history(directory))
if not history.empty:
    st.dataframe(views.history_table(history.to_dict("records"), lang), hide_index=True, width="stretch",
                 key="import_history")
    older = [int(v) for v in history.loc[~history["current"], "version"]]
    if older:
        c1, c2 = st.columns([1, 3])
        pick = c1.selectbox(edge.t("imp_restore_pick"), older, key="restore_pick")
        if c2.button(edge.t("imp_restore"), key="restore_button"):
            try:  # the same operation as the CLI's restore, which writes its own audit entry
                manifest = versions.restore(directory, int(pick), user=edge.user_name() or "local", role=role)
            except (ValueError, PermissionError, versions.WriterBusy) as exc:
                st.error(edge.t("imp_restore_failed", reason=str(exc)))
            else:
                st.session_state["_import_restored"] = edge.t("imp_restored", old=pick, new=manifest["dataset_version"])
                st.rerun()  # history, the sidebar's version and every cached query follow the new version
with st.expander(edge.t("imp_log")):
    st.dataframe(views.log_table(versions.import_log(directory), lang), hide_index=True, width="stretch",
                 key="import_log")
