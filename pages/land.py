"""Land release explorer: the planners' map of every parcel. One set of filters (kept in the URL, so
a link reproduces the view) drives the map, the KPI strip, the charts, the table and the exports;
a click on a parcel (or ?parcel=ID) opens its story; the time slider replays releases by month."""

import streamlit as st

import edge
from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.land import queries as land
from dayuan_geo.land import views as land_views
from dayuan_geo.maps import layers as maps
from dayuan_geo.text import fmt_area
from edge import land_story

lang, role, as_of = edge.lang(), edge.role(), edge.as_of()
opts = edge.query(land.filter_options)
months = land.months_between(min(land.HISTORY_START, opts["released_min"] or land.HISTORY_START), as_of)
latest = months[-1]
villages = opts["villages"]
village_label = dict(zip(villages["code"], villages["name_zh" if lang == "zh" else "name_en"], strict=True))
village_codes = {**dict(zip(villages["name_zh"], villages["code"], strict=True)),
                 **dict(zip(villages["name_en"], villages["code"], strict=True))}
parks = opts["parks"]
park_label = dict(zip(parks["park_id"], parks["name" if lang == "zh" else "name_en"], strict=True))
park_village = dict(zip(parks["park_id"], parks["village_code"], strict=True))
date_lo, date_hi = opts["released_min"] or land.HISTORY_START, as_of
area_lo, area_hi = float(opts["area_min"]), float(max(opts["area_max"], opts["area_min"] + 1))
PARK_OPTION_LIMIT = 3_000

# Widget keys; the story's parcel and the map's generation are plain session values.
K_VILLAGE, K_PARK, K_STATUS, K_USE, K_OWNER = "land_village", "land_park", "land_status", "land_use", "land_owner"
K_DATES, K_AREA, K_Q, K_MONTH, K_DIST = "land_released", "land_area", "land_q", "land_month", "land_dist"
K_SORT, K_DESC, K_PARCEL, K_GEN, K_URL = "land_sort", "land_desc", "land_parcel", "_land_gen", "_land_url"


# ---- the URL is the state: read it when it changed outside this script (a link, back/forward) ------

def seed(view: land.LandView) -> None:
    f = view.filters
    ss = st.session_state
    ss[K_VILLAGE] = [c for c in f.villages if c in village_label]
    ss[K_PARK] = [p for p in f.parks if p in park_label]
    ss[K_STATUS], ss[K_USE], ss[K_OWNER] = list(f.statuses), list(f.planned_uses), list(f.ownerships)
    if f.released_from or f.released_to:
        start = max(f.released_from or date_lo, date_lo)
        end = min(f.released_to or date_hi, date_hi)
        ss[K_DATES] = (start, end) if start <= end else ()
    else:
        ss[K_DATES] = ()
    amin = min(max(f.area_min if f.area_min is not None else area_lo, area_lo), area_hi)
    amax = max(min(f.area_max if f.area_max is not None else area_hi, area_hi), amin)
    ss[K_AREA] = (amin, amax)
    ss[K_Q] = f.search
    ss[K_MONTH] = view.month or latest
    ss[K_DIST] = view.distance_m
    ss[K_SORT], ss[K_DESC] = view.sort, view.descending
    ss[K_PARCEL] = view.parcel


url = {key: st.query_params.get_all(key) for key in land.URL_KEYS}
WIDGET_KEYS = (K_VILLAGE, K_PARK, K_STATUS, K_USE, K_OWNER, K_DATES, K_AREA, K_Q, K_MONTH, K_SORT, K_DESC)
ignored: list[str] = []  # said once, on the run that reads the link
if st.session_state.get(K_URL) != url or any(k not in st.session_state for k in WIDGET_KEYS):
    asked, ignored = land.LandView.from_query(url, months=months, village_names=village_codes)
    seed(asked)
st.session_state.setdefault(K_GEN, 0)


def reset_filters() -> None:
    seed(land.LandView(month=st.session_state.get(K_MONTH)))


def close_story() -> None:
    st.session_state[K_PARCEL] = None
    st.session_state[K_GEN] += 1  # a new layer id: the map drops the old click's highlight


def on_map_select() -> None:
    layer_id, level = st.session_state.get("_land_layer", (None, None))
    objects = st.session_state["land_map"].selection.get("objects", {})
    for obj in objects.get(layer_id) or []:
        if level == "parcel":
            st.session_state[K_PARCEL] = str(obj["i"])
        elif level == "park":  # drill down: the park's parcels, drawn one by one
            st.session_state[K_PARK] = [str(obj["i"])]
        return


def on_table_select() -> None:
    rows = st.session_state["land_table"].selection.get("rows", [])
    ids = st.session_state.get("_land_table_ids", [])
    if rows and 0 <= rows[0] < len(ids):
        st.session_state[K_PARCEL] = ids[rows[0]]


# ---- filters (sidebar) ----------------------------------------------------------------------------
with st.sidebar:
    st.subheader(edge.t("land_filters"))
    chosen_villages = st.multiselect(S.column_label("parcels", "village_code", lang), list(village_label),
                                     format_func=village_label.get, key=K_VILLAGE, placeholder=edge.t("land_all"))
    in_villages = [p for p in park_label if not chosen_villages or park_village.get(p) in chosen_villages]
    st.session_state[K_PARK] = [p for p in st.session_state.get(K_PARK, []) if p in in_villages]
    park_options = list(dict.fromkeys([*st.session_state[K_PARK], *in_villages[:PARK_OPTION_LIMIT]]))
    st.multiselect(S.column_label("parcels", "park_id", lang), park_options, key=K_PARK,
                   format_func=lambda p: f"{park_label.get(p, p)} · {p}", placeholder=edge.t("land_all"),
                   help=edge.t("land_park_help", n=f"{PARK_OPTION_LIMIT:,}") if len(in_villages) > PARK_OPTION_LIMIT
                   else None)
    st.multiselect(S.column_label("parcels", "release_status", lang), list(S.RELEASE_STATUS.codes),
                   format_func=lambda c: S.RELEASE_STATUS.label(c, lang), key=K_STATUS, placeholder=edge.t("land_all"))
    st.multiselect(S.column_label("parcels", "planned_use", lang), list(S.LAND_USE.codes),
                   format_func=lambda c: S.LAND_USE.label(c, lang), key=K_USE, placeholder=edge.t("land_all"))
    st.multiselect(S.column_label("parcels", "ownership", lang), list(S.OWNERSHIP.codes),
                   format_func=lambda c: S.OWNERSHIP.label(c, lang), key=K_OWNER, placeholder=edge.t("land_all"))
    st.date_input(edge.t("land_released_range"), min_value=date_lo, max_value=date_hi, key=K_DATES,
                  help=edge.t("land_released_range_help"), format="YYYY-MM-DD")
    st.slider(edge.t("land_area_range"), min_value=area_lo, max_value=area_hi, step=1.0, key=K_AREA, format="%.0f")
    st.text_input(edge.t("land_search"), key=K_Q, max_chars=land.MAX_SEARCH_CHARS,
                  placeholder=edge.t("land_search_placeholder"))
    st.button(edge.t("land_reset"), on_click=reset_filters, icon=":material/filter_alt_off:", key="land_reset")

ss = st.session_state
dates = sorted(ss.get(K_DATES) or ()) if len(ss.get(K_DATES) or ()) == 2 else []
area = sorted(ss.get(K_AREA) or (area_lo, area_hi))
try:  # widget limits are the browser's: a forged value is refused here, not trusted
    filters = land.LandFilters(
        villages=tuple(ss[K_VILLAGE]), parks=tuple(ss[K_PARK]), statuses=tuple(ss[K_STATUS]),
        planned_uses=tuple(ss[K_USE]), ownerships=tuple(ss[K_OWNER]),
        released_from=dates[0] if dates else None, released_to=dates[1] if dates else None,
        area_min=area[0] if area[0] > area_lo else None, area_max=area[1] if area[1] < area_hi else None,
        search=str(ss[K_Q] or "")[:land.MAX_SEARCH_CHARS],
    )
except (TypeError, ValueError):
    st.error(edge.t("land_bad_filter"))
    filters = land.LandFilters()

# ---- header, KPI strip, time slider -------------------------------------------------------------
st.title(edge.t("land_title"))
st.caption(edge.t("land_caption"))
if ignored:
    st.warning(edge.t("land_link_ignored", keys=", ".join(sorted({item.split("=")[0] for item in ignored}))))

month = st.select_slider(edge.t("land_month"), options=months, key=K_MONTH, help=edge.t("land_month_help"))
view_date = land.month_end(month, as_of=as_of)
summary = edge.query(land.selection_summary, filters=filters, view_date=view_date)
c1, c2, c3 = st.columns(3)
c1.metric(edge.t("land_kpi_parcels"), f"{summary['parcels']:,}", border=True,
          delta=edge.t("land_kpi_of_all", n=f"{opts['parcels_total']:,}"), delta_color="off", delta_arrow="off")
c2.metric(edge.t("land_kpi_area"), fmt_area(summary["area_m2"], lang), border=True)
c3.metric(edge.t("land_kpi_released", day=view_date.isoformat()), fmt_area(summary["released_area_m2"], lang),
          delta=edge.t("land_kpi_released_parcels", n=f"{summary['released_parcels']:,}",
                       share=f"{summary['released_share']:.0%}"), delta_color="off", delta_arrow="off", border=True)

# ---- map and story ------------------------------------------------------------------------------
parcel_id = ss.get(K_PARCEL)
story = edge.query(land.parcel_story, parcel_id=parcel_id, as_of=as_of, role=role) if parcel_id else None
distance = int(ss.get(K_DIST) or land.DEFAULT_DISTANCE_M)
left, right = st.columns([3, 2])
with left:
    bm = edge.basemap()
    m = edge.query(land_views.land_map, filters=filters, view_date=view_date, as_of=as_of, lang=lang, basemap=bm,
                   generation=ss[K_GEN], polygon_budget=land.POLYGON_BUDGET, park_budget=land.PARK_BUDGET,
                   cell_budget=land.CELL_BUDGET, bytes_budget=land.MAP_BYTES_BUDGET)
    overlay = edge.query(land_views.story_layers, parcel_id=parcel_id, distance_m=distance, role=role,
                         basemap=bm) if story else ()
    ss["_land_layer"] = (m.layer_id, m.level)
    st.pydeck_chart(m.deck(overlay), height=600, key="land_map", on_select=on_map_select,
                    selection_mode="single-object")
    st.markdown(maps.legend_html(land_views.legend_items(m, lang),
                                 points=[(S.RISK_LEVEL.label(c, lang), maps.RISK_COLORS[c])
                                         for c in land.RISKY_LEVELS] if story else ()),
                unsafe_allow_html=True)
    note = land_views.caption(m, lang)
    if note:
        st.info(note, icon=":material/grid_view:")
    st.caption(edge.t("land_map_caption"))
    if summary["parcels"] == 0:
        st.warning(edge.t("land_empty"))

with right:
    land_story.story_panel(story, parcel_id, lang=lang, role=role, distance=distance, distance_key=K_DIST,
                           close_story=close_story)

# ---- charts -------------------------------------------------------------------------------------
st.subheader(edge.t("land_charts"))
by_month = edge.query(land.released_by_month, filters=filters, as_of=as_of)
st.plotly_chart(land_views.by_month_figure(by_month, lang=lang, month=month if month != latest else None),
                width="stretch", key="land_chart_month")
c1, c2 = st.columns(2)
c1.plotly_chart(land_views.by_village_figure(edge.query(land.by_village, filters=filters, view_date=view_date),
                                             lang=lang), width="stretch", key="land_chart_village")
c2.plotly_chart(land_views.by_use_figure(edge.query(land.by_planned_use, filters=filters, view_date=view_date),
                                         lang=lang), width="stretch", key="land_chart_use")

# ---- table and exports --------------------------------------------------------------------------
st.subheader(edge.t("land_table"))
s1, s2, _ = st.columns([2, 1, 3])
s1.selectbox(edge.t("land_sort"), list(land.SORT_COLUMNS), key=K_SORT,
             format_func=lambda c: S.column_label("parcels", c, lang))
s2.toggle(edge.t("land_desc"), key=K_DESC)
rows = edge.query(land.selection_table, filters=filters, sort=ss[K_SORT], descending=ss[K_DESC],
                  limit=land.TABLE_ROW_LIMIT)
ss["_land_table_ids"] = rows["parcel_id"].tolist()
if summary["parcels"] > len(rows):
    st.caption(edge.t("land_table_limited", shown=f"{len(rows):,}", n=f"{summary['parcels']:,}"))
else:
    st.caption(edge.t("land_table_caption", n=f"{len(rows):,}"))
st.dataframe(land_views.table_frame(rows, lang=lang), hide_index=True, key="land_table", on_select=on_table_select,
             selection_mode="single-row", height=420, column_config={
                 S.column_label("parcels", "area_m2", lang): st.column_config.NumberColumn(format="localized"),
                 S.column_label("parcels", "released_on", lang): st.column_config.DateColumn(format="YYYY-MM-DD")})

n_selected = f"{summary['parcels']:,}"
st.markdown(f"**{edge.t('land_exports', n=n_selected)}**")
if summary["parcels"] > land.EXPORT_ROW_LIMIT:
    st.info(edge.t("land_export_too_large", n=f"{land.EXPORT_ROW_LIMIT:,}"))
else:
    store, order = edge.store(), (ss[K_SORT], bool(ss[K_DESC]))

    def everything():  # built on click only, on a cursor of its own (the click is served outside this run)
        return land.selection_table(store.cursor(), filters=filters, sort=order[0], descending=order[1],
                                    limit=None, geometry=True)

    edge.export_buttons(everything, table="parcels", name="land-parcels", filters=filters.describe(), geometry=True)
command = land.cli_command(filters, lang=lang)
if command and access.may_export("parcels", role):
    with st.expander(edge.t("land_cli")):
        st.code(command, language="bash")

# ---- write the state back to the URL ------------------------------------------------------------
view = land.LandView(filters=filters, month=month, parcel=parcel_id if story or parcel_id else None,
                     distance_m=distance, sort=ss[K_SORT], descending=bool(ss[K_DESC]))
wanted = view.to_query(default_month=latest)
for key in land.URL_KEYS:
    values = wanted.get(key, [])
    if values != st.query_params.get_all(key):
        if values:
            st.query_params[key] = values if len(values) > 1 else values[0]
        else:
            del st.query_params[key]
ss[K_URL] = {key: wanted.get(key, []) for key in land.URL_KEYS}
