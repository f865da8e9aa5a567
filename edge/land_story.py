"""The land page's parcel story panel: a parcel's facts, its park's project and the firms on and
near it. Layout only; the data comes from dayuan_geo.land.queries through edge.query."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import edge
from dayuan_geo import schema as S
from dayuan_geo.land import queries as land
from dayuan_geo.land import views as land_views
from dayuan_geo.text import md_text


def story_panel(story: dict | None, parcel_id: str | None, *, lang: str, role: str, distance: int,
                distance_key: str, close_story: Callable[[], None]) -> None:
    """Draw the story of parcel_id (story is land.parcel_story's answer, None when it is unknown)."""
    if story is None:
        if parcel_id:
            st.warning(edge.t("land_story_missing"))
            st.code(parcel_id, language=None)
            st.button(edge.t("land_story_close"), on_click=close_story, key="land_close")
        else:
            st.info(edge.t("land_story_hint"), icon=":material/touch_app:")
    else:
        p = story["parcel"]
        head, close = st.columns([5, 1])
        head.subheader(f"{md_text(p['parcel_id'])} · {md_text(p['name'])}", anchor=False)
        close.button("✕", on_click=close_story, key="land_close", help=edge.t("land_story_close"))
        if p["released_on"]:
            st.success(edge.t("land_story_released", day=p["released_on"].isoformat()))
        else:
            st.info(edge.t("land_story_not_released", status=S.RELEASE_STATUS.label(p["release_status"], lang)))
        tab_facts, tab_project, tab_firms = st.tabs(
            [edge.t("land_story_facts"), edge.t("land_story_project"), edge.t("land_story_firms")])
        with tab_facts:
            st.dataframe(land_views.story_attributes(p, lang=lang), hide_index=True, key="land_story_attrs")
        with tab_project:
            project = story["project"]
            if project is None:
                st.info(edge.t("land_story_no_project"))
            else:
                st.markdown(f"**{md_text(project['name'])}** · {S.REMEDIATION_MODE.label(project['mode'], lang)}")
                st.caption(edge.t("land_story_project_line",
                                  stage=S.stage_catalogue().label(project["stage"], lang),
                                  start=project["started_on"], plan=project["planned_finish"],
                                  unit=md_text(project["responsible_unit"])))
                if project["is_overdue"]:
                    st.error(edge.t("land_story_overdue", day=project["planned_finish"]))
                st.dataframe(land_views.stage_history(story["events"], lang=lang), hide_index=True,
                             key="land_story_events")
        with tab_firms:
            firms_on = story["firms"]
            if firms_on is None:
                st.info(edge.t("hidden_for_role"))
            else:
                st.markdown(f"**{edge.t('land_story_firms_on', n=len(firms_on))}**")
                if len(firms_on):
                    st.dataframe(land_views.firms_frame(firms_on, lang=lang), hide_index=True,
                                 key="land_story_firms_on")
                st.number_input(edge.t("land_distance"), min_value=50, max_value=land.MAX_DISTANCE_M, step=50,
                                key=distance_key, help=edge.t("land_distance_help"))
                near = edge.query(land.risky_firms_near, parcel_id=p["parcel_id"], distance_m=distance, role=role)
                st.markdown(f"**{edge.t('land_story_near', n=len(near), d=distance)}**")
                if len(near):
                    st.dataframe(land_views.firms_frame(near, lang=lang), hide_index=True, key="land_story_near")

