"""Land release explorer: the planners' map of every parcel. One set of filters (kept in the URL, so
a link reproduces the view) drives the map, the KPI strip, the charts, the table and the exports;
a click on a parcel (or ?parcel=ID) opens its story; the time slider replays releases by month.
The map and the story are one fragment (edge.land), so a click or a tab reruns only them."""

import streamlit as st

import edge
from dayuan_geo.land import filters as F
from dayuan_geo.land import queries as land
from dayuan_geo.land import views as land_views
from dayuan_geo.text import fmt_area, md_text
from edge import land as page

lang, role, as_of = edge.lang(), edge.role(), edge.as_of()
o = edge.shared(land_views.filter_choices, as_of=as_of, lang=lang)
ignored = page.read_url(o)  # said once, on the run that reads the link
with st.sidebar:
    filters = page.filter_sidebar(o, lang)

# ---- header, time slider, KPI strip -------------------------------------------------------------
st.title(edge.t("land_title"))
st.caption(edge.t("land_caption"))
if ignored:
    st.warning(edge.t("land_link_ignored", keys=md_text(", ".join(dict.fromkeys(ignored)))))  # key=value, as given
month = st.select_slider(edge.t("land_month"), options=o.months, key=page.K_MONTH, help=edge.t("land_month_help"))
view_date = F.month_end(month, as_of=as_of)
summary = edge.query(land.selection_summary, filters=filters, view_date=view_date)
c1, c2, c3 = st.columns(3)
c1.metric(edge.t("land_kpi_parcels"), f"{summary['parcels']:,}", border=True,
          delta=edge.t("land_kpi_of_all", n=f"{o.parcels_total:,}"), delta_color="off", delta_arrow="off")
c2.metric(edge.t("land_kpi_area"), fmt_area(summary["area_m2"], lang), border=True)
c3.metric(edge.t("land_kpi_released", day=view_date.isoformat()), fmt_area(summary["released_area_m2"], lang),
          delta=edge.t("land_kpi_released_parcels", n=f"{summary['released_parcels']:,}",
                       share=f"{summary['released_share']:.0%}"), delta_color="off", delta_arrow="off", border=True)

# ---- map and story (a fragment) -----------------------------------------------------------------
page.map_and_story(filters, view_date=view_date, o=o, lang=lang, role=role, as_of=as_of)
if summary["parcels"] == 0:
    st.warning(edge.t("land_empty"))

# ---- charts and list: only the open tab is built (each is about a second to draw in software) -----
charts_tab, table_tab = st.tabs([edge.t("land_charts"), edge.t("land_table")], key=page.K_BELOW, on_change="rerun")
if charts_tab.open:
    with charts_tab:
        by_month = edge.query(land.released_by_month, filters=filters, as_of=as_of)
        st.plotly_chart(land_views.by_month_figure(by_month, lang=lang, month=month if month != o.latest else None),
                        width="stretch", key="land_chart_month")
        c1, c2 = st.columns(2)
        c1.plotly_chart(land_views.by_village_figure(
            edge.query(land.by_village, filters=filters, view_date=view_date), lang=lang), width="stretch",
            key="land_chart_village")
        c2.plotly_chart(land_views.by_use_figure(
            edge.query(land.by_planned_use, filters=filters, view_date=view_date), lang=lang), width="stretch",
            key="land_chart_use")
if table_tab.open:
    with table_tab:
        page.table_and_exports(filters, o=o, as_of=as_of, summary=summary, lang=lang, role=role)
page.write_url(filters, o)  # the sort order lives outside the fragment
