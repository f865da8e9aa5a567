"""Leadership overview: headline numbers, release progress, the remediation funnel and the map."""

import streamlit as st

import edge
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view
from dayuan_geo.overview import charts, queries
from dayuan_geo.text import fmt_area

lang = edge.lang()
k = edge.query(queries.kpis, as_of=edge.as_of())

st.title(edge.t("overview_title"))
st.caption(edge.t("overview_caption"))

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    edge.t("kpi_released"), fmt_area(k["released_area_m2"], lang),
    delta=fmt_area(k["released_area_m2"] - k["released_area_month_ago_m2"], lang),
    help=edge.t("kpi_released_help"), border=True,
)
target = k["released_area_target_m2"]
progress = f"{k['released_area_ytd_m2'] / target:.0%} · " if target else ""
c2.metric(
    edge.t("kpi_year_target"), fmt_area(k["released_area_ytd_m2"], lang),
    delta=progress + (edge.t("of_target", target=fmt_area(target, lang)) if target else edge.t("no_target")),
    delta_color="off", border=True,
)
c3.metric(edge.t("kpi_parcels"), f"{k['released_parcels']:,} / {k['parcels_total']:,}", border=True)
c4.metric(edge.t("kpi_projects"), f"{k['remediation_projects_total']:,}",
          delta=f"{edge.t('kpi_completed')} {k['projects_completed']}", delta_color="off", border=True)

c1, c2, c3, c4 = st.columns(4)
c1.metric(edge.t("kpi_overdue"), f"{k['projects_overdue']:,}", help=edge.t("kpi_overdue_help"), border=True)
c2.metric(edge.t("kpi_stalled"), f"{k['projects_stalled']:,}",
          help=edge.t("kpi_stalled_help", days=queries.DEFAULT_STALLED_DAYS), border=True)
c3.metric(edge.t("kpi_blacklisted"), f"{k['blacklisted_firms']:,}",
          delta=f"{edge.t('kpi_high_risk')} {k['high_risk_firms']}", delta_color="off", border=True)
c4.metric(edge.t("kpi_inspections"), f"{k['inspections_ytd']:,}",
          delta=f"{edge.t('kpi_rectification')} {k['rectification_orders_ytd']}", delta_color="off",
          border=True)

left, right = st.columns([3, 2])
by_month = edge.query(queries.released_by_month, as_of=edge.as_of())
funnel = edge.query(queries.stage_funnel, as_of=edge.as_of())
left.plotly_chart(charts.released_area_over_time(by_month, lang=lang), width="stretch", key="released_chart")
right.plotly_chart(charts.stage_funnel(funnel, lang=lang), width="stretch", key="funnel_chart")

st.subheader(edge.t("map_title"))
villages = edge.query(queries.outlines, table_name="villages")
# within the map's polygon budget every parcel is drawn; beyond it parks or grid cells (mapdata)
parcel_view = edge.query(mapdata.parcel_view, as_of=edge.as_of(), lang=lang, budget=mapdata.polygon_budget())
layers = [
    parcel_view.layer,
    maps.outline_layer(villages, layer_id="village-outlines"),
    maps.label_layer(villages, lang=lang, layer_id="village-labels"),
    edge.query(mapdata.firms_view, role=edge.role(), lang=lang, risk_levels=("blacklisted",),
               layer_id="blacklisted-firms"),
]
view = fit_view(edge.query(queries.view_bounds), width_px=1000, height_px=560)
st.pydeck_chart(mapdata.deck(layers, center=(view["longitude"], view["latitude"]), zoom=view["zoom"]), height=560,
                key="overview_map")
st.markdown(
    maps.legend_html(mapdata.legend_items(parcel_view, lang),
                     points=[(edge.t("legend_blacklisted"), maps.RISK_COLORS["blacklisted"])]),
    unsafe_allow_html=True,
)
if (budget_note := mapdata.caption(parcel_view, lang)) is not None:
    st.caption(budget_note)
st.caption(edge.t("map_caption"))
