"""The land page's Streamlit side: its state (session and URL), the filter sidebar, and the map with
the parcel story, so pages/land.py stays layout.

One interaction, one script run. The map and the story are one fragment: a click on the map, a tab
of the story, its distance or its close button rerun only that part of the page. Nothing the page
does after drawing asks for another run: the URL is written from the values of this run (it never
feeds back), the map's layer id changes only when its rows change, and widget keys are fixed.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

import edge
from dayuan_geo import access, settings
from dayuan_geo import schema as S
from dayuan_geo.land import filters as F
from dayuan_geo.land import queries as land
from dayuan_geo.land import story as land_story
from dayuan_geo.land import url as U
from dayuan_geo.land import views as land_views
from dayuan_geo.land.filters import FilterChoices
from dayuan_geo.maps import budget
from dayuan_geo.maps import layers as maps
from dayuan_geo.text import file_name, md_text
from edge import phone
from edge.tabs import keep
from edge.widgets import scroll_box, scroll_next_run, small_table

PARK_OPTION_LIMIT = 3_000
MAP_HEIGHT_PX = land_views.MAP_HEIGHT_PX
K_VILLAGE, K_PARK, K_STATUS, K_USE, K_OWNER = "land_village", "land_park", "land_status", "land_use", "land_owner"
K_DATES, K_AREA, K_Q, K_MONTH, K_DIST = "land_released", "land_area", "land_q", "land_month", "land_dist"
K_SORT, K_DESC, K_PARCEL, K_GEN, K_URL = "land_sort", "land_desc", "land_parcel", "_land_gen", "_land_url"
K_TAB, K_LAYER, K_MAP, K_BELOW = "land_story_tab", "_land_layer", "land_map", "land_below"
K_PARK_FIND = "land_park_find"  # a helper of the park list, not a filter: not in the URL
STORY_BOX = "land_story"
WIDGET_KEYS = (K_VILLAGE, K_PARK, K_STATUS, K_USE, K_OWNER, K_DATES, K_AREA, K_Q, K_MONTH, K_SORT, K_DESC)


# ---- the URL is the state: read it when it changed outside this script (a link, back/forward) ------

def seed(view: U.LandView, o: FilterChoices) -> None:
    f, ss = view.filters, st.session_state
    ss[K_VILLAGE] = [c for c in f.villages if c in o.villages]
    ss[K_PARK] = [p for p in f.parks if p in o.parks]
    ss[K_STATUS], ss[K_USE], ss[K_OWNER] = list(f.statuses), list(f.planned_uses), list(f.ownerships)
    ss[K_DATES] = ()
    if f.released_from or f.released_to:
        start, end = max(f.released_from or o.date_lo, o.date_lo), min(f.released_to or o.date_hi, o.date_hi)
        ss[K_DATES] = (start, end) if start <= end else ()
    amin = min(max(f.area_min if f.area_min is not None else o.area_lo, o.area_lo), o.area_hi)
    ss[K_AREA] = (amin, max(min(f.area_max if f.area_max is not None else o.area_hi, o.area_hi), amin))
    ss[K_Q], ss[K_MONTH], ss[K_DIST] = f.search, view.month or o.latest, view.distance_m
    ss[K_SORT], ss[K_DESC], ss[K_PARCEL] = view.sort, view.descending, view.parcel


def read_url(o: FilterChoices) -> list[str]:
    """Seed the widgets from the URL when it is not the one this page last wrote; what it ignored."""
    url = {key: st.query_params.get_all(key) for key in U.URL_KEYS}
    ignored: list[str] = []
    if st.session_state.get(K_URL) != url or any(k not in st.session_state for k in WIDGET_KEYS):
        asked, ignored = U.LandView.from_query(url, months=o.months, village_names=o.village_codes)
        seed(asked, o)
    st.session_state.setdefault(K_GEN, 0)
    keep(K_SORT, K_DESC, K_DIST)
    return ignored


def write_url(filters: F.LandFilters, o: FilterChoices) -> None:
    """The state of this run into the URL (only what changed), remembered so it is not read back."""
    ss = st.session_state
    view = U.LandView(filters=filters, month=ss[K_MONTH], parcel=ss.get(K_PARCEL),
                      distance_m=int(ss.get(K_DIST) or U.DEFAULT_DISTANCE_M), sort=ss[K_SORT],
                      descending=bool(ss[K_DESC]))
    wanted = view.to_query(default_month=o.latest)
    for key in U.URL_KEYS:
        values = wanted.get(key, [])
        if values != st.query_params.get_all(key):
            if values:
                st.query_params[key] = values if len(values) > 1 else values[0]
            else:
                del st.query_params[key]
    ss[K_URL] = {key: wanted.get(key, []) for key in U.URL_KEYS}


# ---- the filters (sidebar) ----------------------------------------------------------------------

def _reset(o: FilterChoices) -> None:
    seed(U.LandView(month=st.session_state.get(K_MONTH)), o)


def filter_sidebar(o: FilterChoices, lang: str) -> F.LandFilters:
    """The filter widgets, and the filters they hold (none when a forged value is refused)."""
    ss, everything = st.session_state, edge.t("land_all")
    st.subheader(edge.t("land_filters"))
    chosen = st.multiselect(S.column_label("parcels", "village_code", lang), list(o.villages),
                            format_func=o.villages.get, key=K_VILLAGE, placeholder=everything, select_all=False)
    in_villages = o.parks_in(chosen)
    allowed = set(in_villages)
    ss[K_PARK] = [p for p in ss.get(K_PARK, []) if p in allowed]
    # a list of tens of thousands of parks is more than a browser should be sent: beyond the limit a
    # box finds parks by part of their name or id, and the list offers what it found
    find = st.text_input(edge.t("land_park_find"), key=K_PARK_FIND, max_chars=F.MAX_SEARCH_CHARS,
                         placeholder=edge.t("land_park_find_placeholder"),
                         help=edge.t("land_park_find_help", n=f"{len(in_villages):,}", limit=f"{PARK_OPTION_LIMIT:,}")
                         ) if len(in_villages) > PARK_OPTION_LIMIT else ""
    found = o.parks_matching(in_villages, find)
    park_help = None
    if len(found) > PARK_OPTION_LIMIT:
        park_help = edge.t("land_park_help", n=f"{len(found):,}", limit=f"{PARK_OPTION_LIMIT:,}")
    elif find:
        park_help = edge.t("land_park_found", n=f"{len(found):,}")
    st.multiselect(S.column_label("parcels", "park_id", lang),
                   list(dict.fromkeys([*ss[K_PARK], *found[:PARK_OPTION_LIMIT]])), key=K_PARK,
                   format_func=lambda p: f"{o.parks.get(p, p)} · {p}", placeholder=everything, help=park_help,
                   select_all=False)
    for column, enum, key in (("release_status", S.RELEASE_STATUS, K_STATUS), ("planned_use", S.LAND_USE, K_USE),
                              ("ownership", S.OWNERSHIP, K_OWNER)):
        st.multiselect(S.column_label("parcels", column, lang), list(enum.codes), key=key,
                       format_func=lambda c, e=enum: e.label(c, lang), placeholder=everything, select_all=False)
    st.date_input(edge.t("land_released_range"), min_value=o.date_lo, max_value=o.date_hi, key=K_DATES,
                  help=edge.t("land_released_range_help"), format="YYYY-MM-DD")
    st.slider(edge.t("land_area_range"), min_value=o.area_lo, max_value=o.area_hi, step=1.0, key=K_AREA,
              format="%.0f")
    st.text_input(edge.t("land_search"), key=K_Q, max_chars=F.MAX_SEARCH_CHARS,
                  placeholder=edge.t("land_search_placeholder"))
    st.button(edge.t("land_reset"), on_click=_reset, args=(o,), icon=":material/filter_alt_off:", key="land_reset")
    dates = sorted(ss.get(K_DATES) or ()) if len(ss.get(K_DATES) or ()) == 2 else []
    area = sorted(ss.get(K_AREA) or (o.area_lo, o.area_hi))
    try:  # widget limits are the browser's: a forged value is refused here, not trusted
        return F.LandFilters(
            villages=tuple(ss[K_VILLAGE]), parks=tuple(ss[K_PARK]), statuses=tuple(ss[K_STATUS]),
            planned_uses=tuple(ss[K_USE]), ownerships=tuple(ss[K_OWNER]),
            released_from=dates[0] if dates else None, released_to=dates[1] if dates else None,
            area_min=area[0] if area[0] > o.area_lo else None, area_max=area[1] if area[1] < o.area_hi else None,
            search=str(ss[K_Q] or "")[:F.MAX_SEARCH_CHARS])
    except (TypeError, ValueError):
        st.error(edge.t("land_bad_filter"))
        return F.LandFilters()


# ---- the map and the story: one fragment ----------------------------------------------------------

def _close_story() -> None:
    st.session_state[K_PARCEL] = None
    st.session_state[K_GEN] += 1  # a new layer id: the map drops the old click's highlight


def _on_map_select() -> None:
    layer_id, level = st.session_state.get(K_LAYER, (None, None))
    for obj in st.session_state[K_MAP].selection.get("objects", {}).get(layer_id) or []:
        if level == "parcel":
            st.session_state[K_PARCEL] = str(obj["i"])
        elif level == "park":  # drill down: the park's parcels, drawn one by one
            st.session_state[K_PARK] = [str(obj["i"])]
        return


@st.fragment
def map_and_story(filters: F.LandFilters, *, view_date: dt.date, o: FilterChoices, lang: str, role: str,
                  as_of: dt.date) -> None:
    """The map of the selection and, beside it, the story of the parcel clicked (a fragment)."""
    ss = st.session_state
    keep(K_DIST)
    if list(filters.parks) != list(ss.get(K_PARK) or []):  # a park was clicked: the whole page filters
        st.rerun(scope="app")
    parcel_id = ss.get(K_PARCEL)
    story = edge.query(land_story.parcel_story, parcel_id=parcel_id, as_of=as_of, role=role) if parcel_id else None
    distance = int(ss.get(K_DIST) or U.DEFAULT_DISTANCE_M)
    left, right = st.columns([3, 2])
    with left:
        bm = edge.basemap()
        m = edge.shared(land_views.land_map, filters=filters, view_date=view_date, as_of=as_of, lang=lang,
                        basemap=bm, generation=ss[K_GEN], polygon_budget=budget.polygon_budget(),
                        width_px=phone.map_width(land_views.MAP_WIDTH_PX))
        overlay = (edge.query(land_views.story_layers, parcel_id=parcel_id, distance_m=distance, role=role,
                              lang=lang, basemap=bm, width_px=phone.map_width(land_views.MAP_WIDTH_PX))
                   if story else None)
        ss[K_LAYER] = (m.layer_id, m.level)
        st.pydeck_chart(m.deck(overlay, context=edge.shared(land_views.village_outlines, basemap=bm)),
                        height=MAP_HEIGHT_PX, key=K_MAP, on_select=_on_map_select, selection_mode="single-object")
        items = [*budget.legend_items(m, lang), (edge.t("legend_village"), maps.VILLAGE_LINE)]
        points = ([(S.RISK_LEVEL.label(c, lang), maps.RISK_COLORS[c]) for c in land_story.RISKY_LEVELS]
                  if overlay else ())
        view = overlay.view if overlay else m.view
        st.markdown(maps.legend_html(items + (land_views.story_legend(distance, lang=lang) if overlay else []),
                                     points=points, scale=(view["latitude"], view["zoom"]), lang=lang),
                    unsafe_allow_html=True)
        if note := budget.caption(m, lang):
            st.info(note + (" " + edge.t("land_tt_click_park") if m.level == "park" else ""),
                    icon=":material/grid_view:")
        st.caption(edge.t("land_map_caption"))
    with right, scroll_box(STORY_BOX):  # a row picked in the list below opens it out of sight
        story_panel(story, parcel_id, lang=lang, role=role, distance=distance)
    write_url(filters, o)


def story_panel(story: dict | None, parcel_id: str | None, *, lang: str, role: str, distance: int) -> None:
    """The story of parcel_id (land.story.parcel_story's answer, None when it is unknown). Only the
    open tab is built: switching tabs runs the fragment once."""
    if story is None:
        if parcel_id:
            st.warning(edge.t("land_story_missing"))
            st.code(parcel_id, language=None)
            st.button(edge.t("land_story_close"), on_click=_close_story, key="land_close")
        else:
            st.info(edge.t("land_story_hint"), icon=":material/touch_app:")
        return
    p = story["parcel"]
    head, close = st.columns([5, 1])
    head.subheader(f"{md_text(p['parcel_id'])} · {md_text(p['name'])}", anchor=False)
    close.button("✕", on_click=_close_story, key="land_close", help=edge.t("land_story_close"))
    if p["released_on"]:
        st.success(edge.t("land_story_released", day=p["released_on"].isoformat()))
    else:
        st.info(edge.t("land_story_not_released", status=S.RELEASE_STATUS.label(p["release_status"], lang)))
    facts, project_tab, firms = st.tabs(
        [edge.t("land_story_facts"), edge.t("land_story_project"), edge.t("land_story_firms")],
        key=K_TAB, on_change="rerun")
    if facts.open:
        with facts:
            small_table(land_views.story_attributes(p, lang=lang), header=False)
    if project_tab.open:
        with project_tab:
            _project(story, lang=lang)
    if firms.open:
        with firms:
            _firms(story, p["parcel_id"], lang=lang, role=role, distance=distance)


def _project(story: dict, *, lang: str) -> None:
    project = story["project"]
    if project is None:
        st.info(edge.t("land_story_no_project"))
        return
    st.markdown(f"**{md_text(project['name'])}** · {S.REMEDIATION_MODE.label(project['mode'], lang)}")
    st.caption(edge.t("land_story_project_line", stage=S.stage_catalogue().label(project["stage"], lang),
                      start=project["started_on"], plan=project["planned_finish"],
                      unit=md_text(project["responsible_unit"])))
    if project["is_overdue"]:
        st.error(edge.t("land_story_overdue", day=project["planned_finish"]))
    small_table(land_views.stage_history(story["events"], lang=lang))


def _firms(story: dict, parcel_id: str, *, lang: str, role: str, distance: int) -> None:
    firms_on = story["firms"]
    if firms_on is None:
        st.info(edge.t("hidden_for_role"))
        return
    st.markdown(f"**{edge.t('land_story_firms_on', n=len(firms_on))}**")
    if len(firms_on):
        st.dataframe(land_views.firms_frame(firms_on, lang=lang), hide_index=True, key="land_story_firms_on")
    st.number_input(edge.t("land_distance"), min_value=50, max_value=U.MAX_DISTANCE_M, step=50, key=K_DIST,
                    help=edge.t("land_distance_help"))
    near = edge.query(land_story.risky_firms_near, parcel_id=parcel_id, distance_m=distance, role=role)
    st.markdown(f"**{edge.t('land_story_near', n=len(near), d=distance)}**")
    if len(near):
        st.dataframe(land_views.firms_frame(near, lang=lang), hide_index=True, key="land_story_near")


# ---- the list and the exports ---------------------------------------------------------------------

def _on_table_select() -> None:
    rows = st.session_state["land_table"].selection.get("rows", [])
    ids = st.session_state.get("_land_table_ids", [])
    if rows and 0 <= rows[0] < len(ids):
        st.session_state[K_PARCEL] = ids[rows[0]]
        scroll_next_run(STORY_BOX)


def export_name(filters: F.LandFilters, o: FilterChoices, *, as_of: dt.date, lang: str) -> str:
    """地块_石湖村委会_已释放_2026-11-20: the table, the filter's gist (villages, parks, statuses, planned
    uses, ownership, a search) and the data date."""
    return file_name(S.table("parcels").label(lang), [o.villages.get(c, c) for c in filters.villages],
                     [o.parks.get(p, p) for p in filters.parks],
                     [S.RELEASE_STATUS.label(c, lang) for c in filters.statuses],
                     [S.LAND_USE.label(c, lang) for c in filters.planned_uses],
                     [S.OWNERSHIP.label(c, lang) for c in filters.ownerships],
                     filters.search, day=as_of, lang=lang)


def table_and_exports(filters: F.LandFilters, *, o: FilterChoices, as_of: dt.date, summary: dict, lang: str,
                      role: str) -> None:
    """The selection's first rows in the chosen order (a click opens a parcel's story), its exports
    and the command line that exports the same parcels."""
    ss = st.session_state
    s1, s2, _ = st.columns([2, 1, 3])
    s1.selectbox(edge.t("land_sort"), list(U.SORT_COLUMNS), key=K_SORT,
                 format_func=lambda c: S.column_label("parcels", c, lang))
    s2.toggle(edge.t("land_desc"), key=K_DESC)
    rows = edge.query(land.selection_table, filters=filters, sort=ss[K_SORT], descending=ss[K_DESC],
                      limit=settings.screen_rows())
    ss["_land_table_ids"] = rows["parcel_id"].tolist()
    if summary["parcels"] > len(rows):
        st.caption(edge.t("land_table_limited", shown=f"{len(rows):,}", n=f"{summary['parcels']:,}"))
    else:
        st.caption(edge.t("land_table_caption", n=f"{len(rows):,}"))
    st.dataframe(land_views.table_frame(rows, lang=lang), hide_index=True, key="land_table",
                 on_select=_on_table_select, selection_mode="single-row", height=420, column_config={
                     S.column_label("parcels", "area_m2", lang): st.column_config.NumberColumn(format="localized"),
                     S.column_label("parcels", "released_on", lang): st.column_config.DateColumn(
                         format="YYYY-MM-DD")})
    n_selected = f"{summary['parcels']:,}"
    st.markdown(f"**{edge.t('land_exports', n=n_selected)}**")
    if summary["parcels"] > land.EXPORT_ROW_LIMIT:
        st.info(edge.t("land_export_too_large", n=f"{land.EXPORT_ROW_LIMIT:,}"))
    else:
        store, order = edge.store(), (ss[K_SORT], bool(ss[K_DESC]))

        def everything():  # built on click only, on a cursor of its own (the click is served outside this run)
            return land.selection_table(store.cursor(), filters=filters, sort=order[0], descending=order[1],
                                        limit=None, geometry=True)

        edge.export_buttons(everything, table="parcels", name=export_name(filters, o, as_of=as_of, lang=lang),
                            filters=filters.describe(),
                            geometry=True)
    command = F.cli_command(filters, lang=lang)
    if command and access.may_export("parcels", role):
        with st.expander(edge.t("land_cli")):
            st.code(command, language="bash")
