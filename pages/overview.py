"""Leadership overview: what needs attention first, the year's pace against the plan, the headline
numbers (each opening the page behind it), the village ranking, the map, and the monthly briefing."""

import streamlit as st

import edge
from dayuan_geo import access
from dayuan_geo.briefing import files as briefing
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import attention, charts, leadership, queries, street_map, views
from edge import downloads, phone

lang, role, as_of = edge.lang(), edge.role(), edge.as_of()
k = edge.query(queries.kpis, as_of=as_of)
pace = edge.query(leadership.pace, as_of=as_of)

st.title(edge.t("overview_title"))
st.caption(edge.t("overview_caption"))
stamp, demo = views.stamp(edge.store().manifest, lang)
# the data date and the demo label in the main area too: a phone hides the sidebar
(st.warning if demo else st.info)(stamp, icon=":material/science:" if demo else ":material/event:")


def cards(row: list[views.Card], *, key: str) -> None:
    with phone.two_per_row(key):  # a phone keeps the cards two by two, labels whole
        _cards(row)


def _cards(row: list[views.Card]) -> None:
    for col, card in zip(st.columns(len(row)), row, strict=True):
        with col:
            st.metric(card.label, card.value, delta=card.delta, delta_color=card.delta_color, help=card.help,
                      border=True, delta_arrow="auto" if card.delta_color == "normal" else "off")
            if card.page_file:
                st.page_link(card.page_file, label=edge.t("ov_go"), icon=":material/arrow_forward:",
                             query_params=dict(card.params))


def listing(frame, total: int, *, page: str, key: str) -> None:
    """One attention list with its links; the whole list is on the page it names."""
    if frame.empty:
        st.caption(edge.t("ov_none"))
        return
    st.dataframe(attention.headers(frame, lang), hide_index=True, width="stretch", key=key,
                 column_config={edge.t("ov_col_link"): st.column_config.LinkColumn(display_text=edge.t("ov_open")),
                                **{edge.t(f"ov_col_{c}"): st.column_config.NumberColumn(format="localized")
                                   for c in attention.NUMBER_COLUMNS},
                                edge.t("ov_col_share_of_target"): st.column_config.NumberColumn(format="percent")})
    if total > len(frame) and page in views.PAGE_FILES:
        st.page_link(views.PAGE_FILES[page], label=edge.t("ov_top_of", shown=len(frame), n=total)
                     + edge.t("ov_all_on_page"), icon=":material/list:")


# ---- needs attention ---------------------------------------------------------------------------
att = edge.query(attention.attention, as_of=as_of, role=role, lang=lang)
st.subheader(edge.t("ov_attention"), anchor="attention")
rem_page = "remediation" if access.may_open("remediation", role) else "land"
tabs = st.tabs([edge.t("ov_late_tab", n=att.late_total), edge.t("ov_stalled_tab", n=att.stalled_total),
                edge.t("ov_risky_tab", n=att.risky_total), edge.t("ov_villages_tab", n=att.villages_total)])
with tabs[0]:
    listing(att.late, att.late_total, page=rem_page, key="att_late")
with tabs[1]:
    listing(att.stalled, att.stalled_total, page=rem_page, key="att_stalled")
with tabs[2]:
    listing(att.risky, att.risky_total, page="firms" if access.may_open("firms", role) else "land", key="att_risky")
with tabs[3]:
    listing(att.villages, att.villages_total, page="", key="att_villages")

# ---- pace and the headline numbers -------------------------------------------------------------
st.subheader(edge.t("ov_pace"))
cards(views.pace_cards(pace, lang=lang), key="ov_pace_cards")
kpi = views.kpi_cards(k, lang=lang, role=role)
cards(kpi[:4], key="ov_kpi_cards_1")
cards(kpi[4:], key="ov_kpi_cards_2")

left, right = st.columns([3, 2])
by_month = edge.query(queries.released_by_month, as_of=as_of)
funnel = edge.query(queries.stage_funnel, as_of=as_of)
left.plotly_chart(charts.released_area_over_time(by_month, lang=lang, plan=leadership.plan_line(pace)),
                  width="stretch", key="released_chart")
right.plotly_chart(charts.stage_funnel(funnel, lang=lang), width="stretch", key="funnel_chart")

# ---- villages ----------------------------------------------------------------------------------
st.subheader(edge.t("ov_village_ranking"), help=edge.t("ov_village_help"))
ranking = edge.query(leadership.village_ranking, as_of=as_of)
listing(views.village_table(ranking, lang=lang, role=role), len(ranking), page="", key="village_ranking")

# ---- map ---------------------------------------------------------------------------------------
st.subheader(edge.t("map_title"))
# every parcel within the map's polygon budget, parks or grid cells beyond it; the view fits the
# street at this screen's width (a phone's column or a desktop's), names clear of the firms
street = edge.shared(street_map.street_map, as_of=as_of, role=role, lang=lang,
                     width_px=phone.map_width(street_map.DESKTOP_WIDTH_PX), budget=mapdata.polygon_budget())
parcel_view = street.parcels
st.pydeck_chart(street.deck(), height=street_map.HEIGHT_PX, key="overview_map")
st.markdown(
    maps.legend_html(mapdata.legend_items(parcel_view, lang),
                     points=[(edge.t("legend_blacklisted"), maps.RISK_COLORS["blacklisted"])]),
    unsafe_allow_html=True,
)
if (budget_note := mapdata.caption(parcel_view, lang)) is not None:
    st.caption(budget_note)
st.caption(edge.t("map_caption"))

# ---- the monthly briefing (leaders and planners; every download is in the audit log) ----------
if role in briefing.ROLES:
    st.subheader(edge.t("ov_briefing"), help=edge.t("ov_briefing_help"), anchor="briefing")
    month = st.selectbox(edge.t("ov_briefing_month"), briefing.months(as_of), key="briefing_month")
    downloads.briefing_buttons(month=month)
