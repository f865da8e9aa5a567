"""Remediation tracker: the headline numbers and the stage pipeline, then one section at a time (only
the open one is built and sent): the parks map with each park's story, what is late, what is stuck, the
timeline, stage durations, progress per park, and every project with the exports."""

import streamlit as st

import edge
from dayuan_geo import schema as S
from dayuan_geo import settings
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view
from dayuan_geo.overview import queries
from dayuan_geo.remediation import charts as RC
from dayuan_geo.remediation import queries as R
from dayuan_geo.remediation import views as RV
from dayuan_geo.text import file_name, fmt_area, md_text, t
from edge import mapnote, park_story, phone, tabs, urlstate

role = edge.role()  # stops here for anyone who may not open this page
lang = edge.lang()
as_of = edge.as_of()
village_names = edge.query(RV.village_names, lang=lang)

st.title(edge.t("rem_title"))
st.caption(edge.t("rem_caption", as_of=as_of.isoformat()))
params = urlstate.remediation_params(villages=list(village_names), stalled_default=R.DEFAULT_STALLED_DAYS)
if ignored := urlstate.follow(params, page="remediation").ignored:
    st.warning(edge.t("rem_link_ignored", keys=md_text(", ".join(ignored))))

tabs.keep("rem_color_by", "rem_ongoing", *park_story.KEYS)  # drawn in one section: kept while others are open
f1, f2, f3 = st.columns([2, 3, 1])
modes = f1.multiselect(edge.t("rem_filter_mode"), S.REMEDIATION_MODE.codes, key="rem_modes",
                       format_func=lambda c: S.REMEDIATION_MODE.label(c, lang),
                       placeholder=edge.t("rem_filter_all"), select_all=False)
chosen_villages = f2.multiselect(edge.t("rem_filter_village"), list(village_names), key="rem_villages",
                                 format_func=lambda c: village_names.get(c, c),
                                 placeholder=edge.t("rem_filter_all"), select_all=False)
threshold = int(f3.number_input(edge.t("rem_threshold"), min_value=1, max_value=3650, step=30, key="rem_threshold",
                                help=edge.t("rem_threshold_help")))

# everything shown for this selection is built once per dataset version and shared (edge.shared)
selection = {"as_of": as_of, "stalled_days": threshold, "modes": tuple(modes), "villages": tuple(chosen_villages),
             "lang": lang}
tr = edge.shared(RV.tracker, rows=settings.screen_rows(), **selection)
filters = {"mode": list(modes), "village_code": list(chosen_villages), "stalled_days": threshold,
           "as_of": as_of.isoformat()}  # recorded with every export in the audit log
store = edge.store()


def whole(which: str):
    """The whole list for a download, built on click only, on a cursor of its own."""
    return lambda: RV.export_table(store.cursor(), which=which, **selection)


def export_name(what: str) -> str:
    """整治项目_淘汰关停_石湖村委会_2026-11-20: the list, the filter's gist and the data date."""
    return file_name(edge.t(what), [S.REMEDIATION_MODE.label(m, lang) for m in modes],
                     [village_names.get(v, v) for v in chosen_villages], day=as_of, lang=lang)


with phone.two_per_row("rem_kpis"):
    c1, c2, c3, c4 = st.columns(4)
c1.metric(edge.t("rem_kpi_projects"), f"{tr.projects:,}", border=True, delta_arrow="off",
          delta=f"{edge.t('kpi_completed')} {tr.completed}", delta_color="off")
c2.metric(edge.t("kpi_overdue"), f"{tr.late:,}", help=edge.t("kpi_overdue_help"), border=True)
c3.metric(edge.t("kpi_stalled"), f"{tr.stuck:,}", help=edge.t("kpi_stalled_help", days=threshold),
          border=True)
c4.metric(edge.t("rem_kpi_released"), fmt_area(tr.released_m2, lang), border=True,
          delta=edge.t("rem_share_of_parks", share=f"{tr.released_m2 / max(tr.park_area_m2, 1):.0%}"),
          delta_color="off", delta_arrow="off")

# ---- stage pipeline -----------------------------------------------------------------------------
st.subheader(edge.t("rem_pipeline"))
p1, p2 = st.columns(2)
measure = p1.radio(edge.t("rem_measure"), R.MEASURES, horizontal=True, key="rem_measure",
                   format_func=lambda m: t(f"rem_measure_{m}", lang))
split = p2.radio(edge.t("rem_split"), R.SPLITS, horizontal=True, key="rem_split",
                 format_func=lambda s: t(f"rem_split_{s}", lang))
st.plotly_chart(tr.pipelines[(measure, split)], width="stretch", key="rem_pipeline_chart")

# ---- the sections: only the open one is built and sent (edge.tabs), the open one in the URL -----
section = tabs.open_tabs({"map": edge.t("rem_map_title"), "late": edge.t("rem_late_tab", n=tr.late),
                          "stuck": edge.t("rem_stuck_tab", n=tr.stuck), "timeline": edge.t("rem_timeline"),
                          "durations": edge.t("rem_durations"), "progress": edge.t("rem_progress"),
                          "projects": edge.t("rem_projects_tab")}, key="rem_sections", state=urlstate.REM_TAB)

if tab := section["map"]:  # the parks map and a park's story
    with tab:
        color_by = st.radio(edge.t("rem_color_by"), ("stage", "late"), horizontal=True, key="rem_color_by",
                            format_func=lambda c: t(f"rem_color_{c}", lang))
        park_map = edge.shared(RV.park_map, color_by=color_by, budget=mapdata.polygon_budget(), **selection)
        if park_map.parks > park_map.shown:
            st.caption(edge.t("rem_map_limited", shown=park_map.shown, total=park_map.parks))
        left, right = st.columns([3, 2])
        with left:
            street = fit_view(edge.query(queries.view_bounds), width_px=phone.map_width(RV.MAP_WIDTH_PX),
                              height_px=540)
            deck = mapdata.deck(park_map.layers, center=(street["longitude"], street["latitude"]), zoom=street["zoom"])
            event = st.pydeck_chart(deck, height=540, key="rem_map", on_select="rerun",
                                    selection_mode="single-object")
            view = deck.initial_view_state
            mapnote.tile_check(center=edge.query(queries.view_center), zoom=view.zoom)
            st.markdown(maps.legend_html(RC.legend_items(color_by, lang=lang), lang=lang,
                                         scale=(view.latitude, view.zoom)), unsafe_allow_html=True)
            st.caption(edge.t("rem_map_caption"))
        park_story.follow_click(event)
        with right:
            st.markdown(f"**{edge.t('rem_story')}**")
            if park_id := park_story.picker(list(park_map.names)):
                park_story.story(park_id, as_of=as_of, role=role, lang=lang)

for which, n, table in (("late", tr.late, tr.late_table), ("stuck", tr.stuck, tr.stuck_table)):
    if tab := section[which]:
        with tab:
            if not n:
                st.success(edge.t(f"rem_{which}_none"))
                continue
            st.dataframe(table, hide_index=True, width="stretch", key=f"remediation-{which}-table")
            if n > len(table):
                st.caption(edge.t("rem_rows_capped", shown=len(table), total=n))
            edge.export_buttons(whole(which), table="remediation_projects", name=export_name(f"rem_file_{which}"),
                                filters=filters, formats=("csv", "xlsx"), geometry=False)

if tab := section["timeline"]:
    with tab:
        if tr.gantt_shown < tr.projects:
            st.caption(edge.t("rem_gantt_limited", shown=tr.gantt_shown, total=tr.projects))
        st.plotly_chart(tr.gantt, width="stretch", key="rem_gantt")

if tab := section["durations"]:
    with tab:
        ongoing = st.toggle(edge.t("rem_include_ongoing"), value=True, key="rem_ongoing")
        durations_chart, durations_table = tr.durations[bool(ongoing)]
        d1, d2 = st.columns([3, 2])
        d1.plotly_chart(durations_chart, width="stretch", key="rem_durations_chart")
        d2.dataframe(durations_table, hide_index=True, width="stretch", key="rem_durations_table")

if tab := section["progress"]:
    with tab:
        st.plotly_chart(tr.progress, width="stretch", key="rem_progress_chart")

if tab := section["projects"]:  # every project, and the exports of the projects and their history
    with tab:
        progress_col = R.header("progress", lang)
        st.dataframe(tr.project_table, hide_index=True, width="stretch", key="rem_projects_table",
                     column_config={progress_col: st.column_config.ProgressColumn(
                         progress_col, format="percent", min_value=0, max_value=1)})
        if tr.projects > len(tr.project_table):
            st.caption(edge.t("rem_rows_capped", shown=len(tr.project_table), total=tr.projects))
        e1, e2 = st.columns(2)
        with e1:
            st.caption(edge.t("rem_export_projects"))
            edge.export_buttons(whole("projects"), table="remediation_projects",
                                name=export_name("rem_file_projects"), filters=filters, formats=("csv", "xlsx"),
                                geometry=False)
        with e2:
            st.caption(edge.t("rem_export_history"))
            edge.export_buttons(whole("history"), table="remediation_events", name=export_name("rem_file_history"),
                                filters=filters, formats=("csv", "xlsx"), geometry=False)
urlstate.write(params, page="remediation")
