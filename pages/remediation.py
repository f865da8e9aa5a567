"""Remediation tracker: the stage pipeline, the timeline, what is late or stuck, stage durations,
the parks map with each park's story, progress per park, and exports."""

import streamlit as st

import edge
from dayuan_geo import maps, queries
from dayuan_geo import remediation as R
from dayuan_geo import remediation_charts as RC
from dayuan_geo import schema as S
from dayuan_geo.i18n import fmt_area, t

role = edge.role()  # stops here for anyone who may not open this page
lang = edge.lang()
as_of = edge.as_of()
cat = S.stage_catalogue()
villages = edge.query(queries.outlines, table_name="villages")
village_names = dict(zip(villages["id"], villages["label_zh" if lang == "zh" else "label_en"], strict=True))

st.title(edge.t("rem_title"))
st.caption(edge.t("rem_caption", as_of=as_of.isoformat()))

f1, f2, f3 = st.columns([2, 3, 1])
modes = f1.multiselect(edge.t("rem_filter_mode"), S.REMEDIATION_MODE.codes, key="rem_modes",
                       format_func=lambda c: S.REMEDIATION_MODE.label(c, lang),
                       placeholder=edge.t("rem_filter_all"))
chosen_villages = f2.multiselect(edge.t("rem_filter_village"), list(village_names), key="rem_villages",
                                 format_func=lambda c: village_names.get(c, c),
                                 placeholder=edge.t("rem_filter_all"))
threshold = int(f3.number_input(edge.t("rem_threshold"), min_value=1, max_value=3650, step=30,
                                value=R.DEFAULT_STALLED_DAYS, key="rem_threshold",
                                help=edge.t("rem_threshold_help")))

all_projects = edge.query(R.project_list, as_of=as_of, stalled_days=threshold)
projects = R.filter_projects(all_projects, modes=tuple(modes), villages=tuple(chosen_villages))
late = R.late_projects(projects)
stuck = R.stuck_projects(projects)
filters = {"mode": list(modes), "village_code": list(chosen_villages), "stalled_days": threshold,
           "as_of": as_of.isoformat()}  # recorded with every export in the audit log
history = edge.query(R.stage_history, as_of=as_of)
history = history[history["project_id"].isin(set(projects["project_id"]))]

c1, c2, c3, c4 = st.columns(4)
c1.metric(edge.t("rem_kpi_projects"), f"{len(projects):,}", border=True, delta_arrow="off",
          delta=f"{edge.t('kpi_completed')} {int(projects['is_completed'].sum())}", delta_color="off")
c2.metric(edge.t("kpi_overdue"), f"{len(late):,}", help=edge.t("kpi_overdue_help"), border=True)
c3.metric(edge.t("kpi_stalled"), f"{len(stuck):,}", help=edge.t("kpi_stalled_help", days=threshold),
          border=True)
c4.metric(edge.t("rem_kpi_released"), fmt_area(float(projects["released_m2"].sum()), lang), border=True,
          delta=edge.t("rem_share_of_parks",
                       share=f"{projects['released_m2'].sum() / max(projects['park_area_m2'].sum(), 1):.0%}"),
          delta_color="off", delta_arrow="off")

# ---- stage pipeline -----------------------------------------------------------------------------
st.subheader(edge.t("rem_pipeline"))
p1, p2 = st.columns(2)
measure = p1.radio(edge.t("rem_measure"), R.MEASURES, horizontal=True, key="rem_measure",
                   format_func=lambda m: t(f"rem_measure_{m}", lang))
split = p2.radio(edge.t("rem_split"), R.SPLITS, horizontal=True, key="rem_split",
                 format_func=lambda s: t(f"rem_split_{s}", lang))
pipeline = R.stage_pipeline(projects, split=split)
groups = pipeline["group"].drop_duplicates()
group_labels = {g: S.REMEDIATION_MODE.label(g, lang) if split == "mode" else village_names.get(g, g)
                for g in groups}
st.plotly_chart(RC.pipeline_chart(pipeline, measure=measure, group_labels=group_labels, lang=lang),
                width="stretch", key="rem_pipeline_chart")

# ---- map and project story ----------------------------------------------------------------------
st.subheader(edge.t("rem_map_title"))
color_by = st.radio(edge.t("rem_color_by"), ("stage", "late"), horizontal=True, key="rem_color_by",
                    format_func=lambda c: t(f"rem_color_{c}", lang))
parks = edge.query(R.parks_for_map, as_of=as_of, stalled_days=threshold)
if modes or chosen_villages:
    parks = parks[parks["project_id"].isin(set(projects["project_id"]))]
park_names = dict(zip(parks["park_id"], parks["park_name"], strict=True))  # the story's choices
if len(parks) > R.MAP_LIMIT:
    st.caption(edge.t("rem_map_limited", shown=R.MAP_LIMIT, total=len(parks)))
    parks = R.most_urgent(parks, limit=R.MAP_LIMIT)
left, right = st.columns([3, 2])
with left:
    layers = [
        RC.parks_layer(parks, color_by=color_by, lang=lang, villages=village_names, layer_id="parks"),
        maps.outline_layer(villages, layer_id="village-outlines"),
        maps.label_layer(villages, lang=lang, layer_id="village-labels"),
    ]
    event = st.pydeck_chart(maps.deck(layers, center=edge.query(queries.view_center)), height=540,
                            key="rem_map", on_select="rerun", selection_mode="single-object")
    st.markdown(maps.legend_html(RC.legend_items(color_by, lang=lang)), unsafe_allow_html=True)
    st.caption(edge.t("rem_map_caption"))

clicked = (event.selection.get("objects", {}).get("parks") or [{}])[0].get("park_id") if event else None
if clicked and clicked != st.session_state.get("rem_map_clicked"):
    st.session_state["rem_map_clicked"] = clicked
    st.session_state["rem_story_park"] = clicked
with right:
    st.markdown(f"**{edge.t('rem_story')}**")
    park_id = st.selectbox(edge.t("rem_story_pick"), list(park_names), index=None, key="rem_story_park",
                           format_func=lambda p: f"{p} {park_names.get(p, '')}",
                           placeholder=edge.t("rem_story_placeholder"))
    if park_id:
        story = edge.query(R.project_story, park_id=park_id, as_of=as_of, role=role)
        park, project = story["park"], story["project"]
        title = park["park_name_en"] if lang == "en" and isinstance(park["park_name_en"], str) else park["park_name"]
        st.markdown(f"#### {R.md_escape(title)}")
        if project is None:
            st.info(edge.t("rem_story_no_project"))
        else:
            status = []
            if project["is_overdue"]:
                status.append(edge.t("rem_status_overdue", days=int(project["days_late"])))
            if project["is_stalled"]:
                status.append(edge.t("rem_status_stuck", days=int(project["days_idle"])))
            st.markdown(" · ".join(R.md_escape(x) for x in [
                project["project_id"], S.REMEDIATION_MODE.label(project["mode"], lang),
                cat.label(project["stage"], lang), project["responsible_unit"], *status]))
            st.progress(float(project["progress"]), text=(
                f"{edge.t('kpi_released')}: {fmt_area(story['released_m2'], lang)} / "
                f"{fmt_area(park['area_m2'], lang)}"))
            st.caption(edge.t("rem_story_stages"))
            st.dataframe(R.labelled(R.story_stages(story["history"]), R.STORY_COLUMNS, lang=lang,
                                    table="remediation_events"),
                         hide_index=True, width="stretch", key="rem_story_stages")
        parcels = story["parcels"]
        st.caption(edge.t("rem_story_parcels", n=len(parcels), area=fmt_area(story["released_m2"], lang)))
        if len(parcels):
            st.dataframe(R.labelled(parcels, R.PARCEL_COLUMNS, lang=lang), hide_index=True, width="stretch",
                         key="rem_story_parcels")
        firms = story["firms"]
        st.caption(edge.t("rem_story_firms", n=len(firms)))
        if "name" not in firms.columns:
            st.caption(edge.t("rem_story_names_hidden"))
        if len(firms):
            st.dataframe(R.firms_table(firms, lang=lang), hide_index=True, width="stretch", height=240,
                         key="rem_story_firms")

# ---- timeline -----------------------------------------------------------------------------------
st.subheader(edge.t("rem_timeline"))
on_timeline = R.gantt_selection(projects)
if len(on_timeline) < len(projects):
    st.caption(edge.t("rem_gantt_limited", shown=len(on_timeline), total=len(projects)))
st.plotly_chart(RC.gantt(on_timeline, history, as_of=as_of, lang=lang), width="stretch", key="rem_gantt")

# ---- late and stuck -----------------------------------------------------------------------------
st.subheader(edge.t("rem_late_stuck"))
tab_late, tab_stuck = st.tabs([edge.t("rem_late_tab", n=len(late)), edge.t("rem_stuck_tab", n=len(stuck))])
for tab, rows, columns, name, empty in (
    (tab_late, late, R.LATE_COLUMNS, "remediation-late", "rem_late_none"),
    (tab_stuck, stuck, R.STUCK_COLUMNS, "remediation-stuck", "rem_stuck_none"),
):
    with tab:
        if rows.empty:
            st.success(edge.t(empty))
            continue
        table = R.labelled(rows, columns, lang=lang, villages=village_names)
        st.dataframe(table, hide_index=True, width="stretch", key=f"{name}-table")
        edge.export_buttons(table, table="remediation_projects", name=name, filters=filters,
                            formats=("csv", "xlsx"))

# ---- stage durations ----------------------------------------------------------------------------
st.subheader(edge.t("rem_durations"))
ongoing = st.toggle(edge.t("rem_include_ongoing"), value=True, key="rem_ongoing")
stays = history if ongoing else history[~history["ongoing"].astype(bool)]
d1, d2 = st.columns([3, 2])
d1.plotly_chart(RC.durations_chart(stays, lang=lang), width="stretch", key="rem_durations_chart")
d2.dataframe(R.labelled(R.stage_durations(history, include_ongoing=ongoing), R.DURATION_COLUMNS, lang=lang,
                        table="remediation_events"),
             hide_index=True, width="stretch", key="rem_durations_table")

# ---- progress per park --------------------------------------------------------------------------
st.subheader(edge.t("rem_progress"))
st.plotly_chart(RC.progress_chart(projects, lang=lang), width="stretch", key="rem_progress_chart")

# ---- exports ------------------------------------------------------------------------------------
st.subheader(edge.t("rem_exports"))
project_table = R.labelled(projects, R.PROJECT_COLUMNS, lang=lang, villages=village_names)
progress_col = R.header("progress", lang)
st.dataframe(project_table, hide_index=True, width="stretch", key="rem_projects_table",
             column_config={progress_col: st.column_config.ProgressColumn(progress_col, format="percent",
                                                                          min_value=0, max_value=1)})
e1, e2 = st.columns(2)
with e1:
    st.caption(edge.t("rem_export_projects"))
    edge.export_buttons(project_table, table="remediation_projects", name="remediation-projects",
                        filters=filters, formats=("csv", "xlsx"))
with e2:
    st.caption(edge.t("rem_export_history"))
    edge.export_buttons(R.labelled(history, R.HISTORY_COLUMNS, lang=lang, villages=village_names,
                                   table="remediation_events"),
                        table="remediation_events", name="remediation-stage-history", filters=filters,
                        formats=("csv", "xlsx"))
