"""The firms page's pieces that are not layout of the page itself: the story of one firm, the tables
that open a story when a row is picked, the inspections tab, what its closed tabs keep and the
page's URL parameters."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pydeck as pdk
import streamlit as st

import edge
from dayuan_geo import schema as S
from dayuan_geo import settings
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view
from dayuan_geo.overview import queries
from dayuan_geo.safety import inspections, views
from dayuan_geo.safety import queries as safety
from dayuan_geo.text import file_name, md_text
from edge import phone, tabs, urlstate
from edge.widgets import scroll_box, scroll_next_run, small_table

STORY = "firm_story_id"
STORY_BOX = "firm_story"  # the story's container: a click on the map or a list brings it into view
FOCUS = "firm_focus"  # the firm a link named: the map opens on it
FOCUS_ZOOM = 16
MAP_WIDTH_PX, MAP_HEIGHT_PX = 1000, 600  # the firms map on screen at 1440 px (the page's width)
TABS = ("map", "list", "near", "inspections")
TAB = "fs_tab"  # the open tab, as a code (edge.tabs.open_tabs), kept in the URL


def url_params(*, villages: list[str], grids: list[str], industries: list[str], years: list[int]
               ) -> list[urlstate.Param]:
    """/firms?risk=…&status=…&village=…&grid=…&industry=…&year=…&firm=…&tab=…"""
    return [
        urlstate.Param("risk", "f_level", urlstate.choice(safety.RISKY_LEVELS, labels=S.RISK_LEVEL.parse),
                       multi=True, default=list(safety.RISKY_LEVELS)),
        urlstate.Param("status", "f_status", urlstate.choice(S.LIST_STATUS.codes, labels=S.LIST_STATUS.parse),
                       multi=True),
        urlstate.Param("village", "f_village", urlstate.choice(villages), multi=True),
        urlstate.Param("grid", "f_grid", urlstate.choice(grids), multi=True),
        urlstate.Param("industry", "f_industry", urlstate.choice(industries, labels=S.INDUSTRY.parse), multi=True),
        urlstate.Param("year", "insp_year", urlstate.integer(low=min(years), high=max(years)), default=years[0]),
        urlstate.Param("firm", STORY, safety.clean_firm_id),
        urlstate.Param("tab", TAB, urlstate.choice(TABS), default=TABS[0]),
    ]


def follow_url(params: list[urlstate.Param]) -> None:
    """Set the filters and the story from the link (said when a value was not understood)."""
    followed = urlstate.follow(params, page="firms")
    if followed.ignored:
        st.warning(edge.t("fs_link_ignored", keys=md_text(", ".join(followed.ignored))))
    if followed.seeded:  # a click later opens a story where the map stands
        st.session_state[FOCUS] = st.session_state[STORY]


def on_map_click(key: str, layers: tuple[str, ...]) -> Callable[[], None]:
    """A callback that opens the story of the firm clicked on the map called key."""
    def click() -> None:
        objects = st.session_state[key].selection.get("objects", {})
        for layer in layers:
            for obj in objects.get(layer, []):
                return show_story_of(obj.get("firm_id"))
    return click


def show_story_of(firm_id: object) -> None:
    if firm_id := safety.clean_firm_id(firm_id):  # a selection comes back from the browser
        st.session_state[STORY] = firm_id
        scroll_next_run(STORY_BOX)  # the story is below the map and the lists


def on_row_pick(key: str, frame: pd.DataFrame) -> Callable[[], None]:
    """A callback that opens the story of the row picked in the table called key."""
    def pick() -> None:
        rows = st.session_state[key].selection.get("rows", [])
        if rows and rows[0] < len(frame):
            show_story_of(frame["firm_id"].iloc[rows[0]])
    return pick


def keep_tab_widgets() -> None:
    """The near-land check's distance and parcel statuses (the map rings its result whichever tab is
    open), the ordinary firms' switch and the repeat threshold keep their values while their tab is
    closed."""
    st.session_state.setdefault("near_distance", int(safety.DEFAULT_DISTANCE_M))
    st.session_state.setdefault("near_status", list(safety.NEAR_LAND_STATUSES))
    st.session_state.setdefault("repeat_min", inspections.DEFAULT_MIN_PROBLEMS)
    tabs.keep("near_distance", "near_status", "show_ordinary", "repeat_min")


def pickable_table(frame: pd.DataFrame, *, key: str, lang: str, keep_village: bool = False) -> None:
    """A firm table (its first settings.screen_rows() rows, said under it when some are left out: the
    exports hold them all) where picking a row opens that firm's story."""
    shown = frame.head(settings.screen_rows())
    st.dataframe(views.for_display(shown, table="firms", lang=lang, keep_village=keep_village), hide_index=True,
                 key=key, on_select=on_row_pick(key, shown), selection_mode="single-row")
    if len(frame) > len(shown):
        st.caption(edge.t("fs_rows_capped", shown=len(shown), total=len(frame)))


def inspections_tab(k: dict, *, year: int, as_of: object, role: str, lang: str) -> None:
    """The inspections tab: the year's charts, its rectification orders, the firms with repeated
    problems and inspections per grid (k: safety.safety_kpis of the year)."""
    start, end = k["start"], k["end"]
    st.caption(edge.t("fs_insp_caption", start=start, end=end))
    figures = edge.shared(views.inspection_figures, as_of=as_of, start=start, end=end, lang=lang)
    st.plotly_chart(figures.trend, width="stretch", key="insp_trend")
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.category, width="stretch", key="insp_category")
    right.plotly_chart(figures.outcome, width="stretch", key="insp_outcome")

    st.subheader(edge.t("fs_rect_title", n=k["rectification_firms"]))
    rect = edge.query(inspections.rectification_orders, role=role, start=start, end=end)
    pickable_table(rect, key="rect_table", lang=lang)
    edge.export_buttons(views.for_export(rect, lang=lang), table="firms",
                        name=file_name(edge.t("fs_file_rect"), year, day=as_of, lang=lang),
                        formats=("csv", "xlsx"), filters={"year": year})

    st.subheader(edge.t("fs_repeat_title"))
    min_problems = int(st.columns(4)[0].number_input(edge.t("fs_repeat_min"), 1, 50, key="repeat_min"))
    repeat = edge.query(inspections.repeat_problem_firms, role=role, start=start, end=end,
                        min_problems=min_problems)
    st.caption(edge.t("fs_repeat_caption", n=len(repeat), m=min_problems))
    pickable_table(repeat, key="repeat_table", lang=lang)
    edge.export_buttons(views.for_export(repeat, lang=lang), table="firms",
                        name=file_name(edge.t("fs_file_repeat"), year, day=as_of, lang=lang),
                        formats=("csv", "xlsx"), filters={"year": year, "min_problems": min_problems})

    st.subheader(edge.t("fs_grid_map_title"))
    per_grid = edge.shared(views.grid_counts_view, start=start, end=end, lang=lang)
    grid_layers = [*per_grid.layers, *edge.shared(views.village_layers, lang=lang, outline_id="grid-map-villages",
                                               label_id="grid-map-labels")]
    st.pydeck_chart(mapdata.deck(grid_layers, center=edge.query(queries.view_center)), height=520, key="grid_map")
    st.markdown(maps.legend_html(per_grid.legend), unsafe_allow_html=True)


def story_panel(story: dict | None, *, lang: str) -> None:
    """The story of the firm opened (safety.firm_story's answer; None when none is, or when there is
    no such firm: missing_firm says so at the top of the page)."""
    st.divider()
    with scroll_box(STORY_BOX):
        _story(story, lang=lang)


def missing_firm(story: dict | None, firm_id: str | None) -> None:
    """A link or a click named a firm there is no such firm for: said where the page starts."""
    if firm_id and story is None:
        st.warning(edge.t("fs_story_missing", id=md_text(firm_id)))


def _story(story: dict | None, *, lang: str) -> None:
    if story is None:
        st.info(edge.t("fs_story_hint"))
        return
    firm = story["firm"]
    st.subheader(edge.t("fs_story_title", name=md_text(firm.get("name") or firm["firm_id"])))
    left, right = st.columns([2, 3])
    with left:
        small_table(views.story_facts(firm, lang=lang), header=False)
    if "uscc" in firm:
        if firm.get("uscc_problem"):
            left.error(edge.t("fs_uscc_bad", problem=views.uscc_label(firm["uscc"], lang=lang)))
        else:
            left.success(edge.t("fs_uscc_ok"))
    right.markdown(f"**{edge.t('fs_story_history')}**")
    with right:
        small_table(views.listing_history(story, lang=lang))
    if story["inspections"] is None:
        st.info(edge.t("fs_story_insp_hidden"))
    else:
        st.markdown(f"**{edge.t('fs_story_inspections', n=len(story['inspections']))}**")
        st.dataframe(views.for_display(story["inspections"], table="inspections", lang=lang),
                     hide_index=True, key="story_inspections")


def map_deck(layers: list[pdk.Layer], firm: dict | None, *, points: pd.DataFrame, lang: str) -> pdk.Deck:
    """The firms map: on the whole street fitted to this screen's width (a phone's column or a
    desktop's), or on the firm a link named; either way the village names placed for that view
    (inside what it shows, clear of the firm points) instead of at their own label points."""
    width = phone.map_width(MAP_WIDTH_PX)
    if firm is None:
        view = fit_view(edge.query(queries.view_bounds), width_px=width, height_px=MAP_HEIGHT_PX)
    else:
        view = {"longitude": float(firm["lon"]), "latitude": float(firm["lat"]), "zoom": FOCUS_ZOOM}
    villages = edge.query(queries.outlines, table_name="villages")
    shown = [layer for layer in layers if layer.id != "village-labels"]
    shown.append(maps.placed_label_layer(villages, view=view, lang=lang, width_px=width, height_px=MAP_HEIGHT_PX,
                                         points=points))
    return mapdata.deck(shown, center=(view["longitude"], view["latitude"]), zoom=view["zoom"])
