"""The remediation page's park story: the picker (a search over every park, a short list of the parks
drawn) and the story of the park chosen, by the picker, a click on the map or ?park=ID."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import edge
from dayuan_geo import schema as S
from dayuan_geo.remediation import queries as R
from dayuan_geo.remediation import views as RV
from dayuan_geo.text import fmt_area, md_text

K_PARK, K_SEARCH, K_CLICKED = "rem_story_park", "rem_story_q", "rem_map_clicked"
KEYS = (K_PARK, K_SEARCH)  # the widgets of the picker, drawn only while the map section is open


def follow_click(event: object) -> None:
    """A park clicked on the map opens its story (once per click: the selection stays on later runs)."""
    selection = getattr(event, "selection", None) or {}
    clicked = (selection.get("objects", {}).get("parks") or [{}])[0].get("park_id")
    if clicked and clicked != st.session_state.get(K_CLICKED):
        st.session_state[K_CLICKED] = clicked
        st.session_state[K_PARK] = clicked


def picker(drawn: list[str]) -> str | None:
    """A search over every park and a short list (the parks drawn, most urgent first, without a
    search): any park can be found, and the page sends PICK_LIMIT names instead of thousands."""
    names = edge.shared(RV.park_names)  # 19,945 parks at scale M: held, not unpickled on each run
    if st.session_state.get(K_PARK) not in names:  # a link's park that does not exist
        st.session_state[K_PARK] = None
    search = st.text_input(edge.t("rem_story_search"), key=K_SEARCH, max_chars=40)
    listed, total = RV.park_choices(names, drawn=drawn, search=search or "", chosen=st.session_state[K_PARK])
    park_id = st.selectbox(edge.t("rem_story_pick"), listed, index=None, key=K_PARK,
                           format_func=lambda p: f"{p} {names.get(p, '')}",
                           placeholder=edge.t("rem_story_placeholder"))
    if search and not total:
        st.caption(edge.t("rem_story_no_match", q=md_text(search)))
    elif total > RV.PICK_LIMIT:
        st.caption(edge.t("rem_story_pick_capped", shown=RV.PICK_LIMIT, total=total))
    return park_id


def story(park_id: str, *, as_of: dt.date, role: str, lang: str) -> None:
    """The park's project, its stages with their dates, the parcels it released and its firms."""
    told = edge.query(R.project_story, park_id=park_id, as_of=as_of, role=role)
    park, project = told["park"], told["project"]
    title = park["park_name_en"] if lang == "en" and isinstance(park["park_name_en"], str) else park["park_name"]
    st.markdown(f"#### {md_text(title)}")
    if project is None:
        st.info(edge.t("rem_story_no_project"))
    else:
        status = []
        if project["is_overdue"]:
            status.append(edge.t("rem_status_overdue", days=int(project["days_late"])))
        if project["is_stalled"]:
            status.append(edge.t("rem_status_stuck", days=int(project["days_idle"])))
        st.markdown(" · ".join(md_text(x) for x in [
            project["project_id"], S.REMEDIATION_MODE.label(project["mode"], lang),
            S.stage_catalogue().label(project["stage"], lang), project["responsible_unit"], *status]))
        st.progress(float(project["progress"]), text=(
            f"{edge.t('kpi_released')}: {fmt_area(told['released_m2'], lang)} / {fmt_area(park['area_m2'], lang)}"))
        st.caption(edge.t("rem_story_stages"))
        st.dataframe(R.labelled(R.story_stages(told["history"]), R.STORY_COLUMNS, lang=lang,
                                table="remediation_events", screen=True),
                     hide_index=True, width="stretch", key="rem_story_stages")
    parcels = told["parcels"]
    st.caption(edge.t("rem_story_parcels", n=len(parcels), area=fmt_area(told["released_m2"], lang)))
    if len(parcels):
        st.dataframe(R.labelled(parcels, R.PARCEL_COLUMNS, lang=lang, screen=True), hide_index=True,
                     width="stretch", key="rem_story_parcels")
    firms = told["firms"]
    st.caption(edge.t("rem_story_firms", n=len(firms)))
    if "name" not in firms.columns:
        st.caption(edge.t("rem_story_names_hidden"))
    if len(firms):
        st.dataframe(R.firms_table(firms, lang=lang), hide_index=True, width="stretch", height=240,
                     key="rem_story_firms")
