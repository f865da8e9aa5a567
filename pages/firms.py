"""Firms and safety: risky firms on the map and in a list, the near-land veto check, inspections,
and the story of one firm (opened by a click on the map or the list, or by ?firm=ID)."""

import streamlit as st

import edge
from dayuan_geo import schema as S
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries
from dayuan_geo.safety import queries as safety
from dayuan_geo.safety import views
from dayuan_geo.text import file_name
from edge import firm_story, mapnote, phone, tabs, urlstate

lang, role, as_of = edge.lang(), edge.role(), edge.as_of()
STORY = firm_story.STORY
RISKY_LAYER, ORDINARY_LAYER = "risky-firms", "ordinary-firms"
st.title(edge.t("fs_title"))
st.caption(edge.t("fs_caption"))

years = edge.query(safety.inspection_years, as_of=as_of)
opts = edge.query(safety.filter_options)
params = firm_story.url_params(villages=list(opts["villages"]["code"]), grids=list(opts["grids"]["grid_id"]),
                               industries=list(opts["industries"]["industry"]), years=list(years))
firm_story.follow_url(params)  # the link's filters and firm, before the widgets
firm_id = st.session_state.get(STORY)
story = edge.query(safety.firm_story, role=role, firm_id=firm_id, as_of=as_of) if firm_id else None
firm_story.missing_firm(story, firm_id)  # said here, not below the map
year = st.columns(4)[0].selectbox(edge.t("fs_insp_year"), years, key="insp_year")
k = edge.query(safety.safety_kpis, as_of=as_of, year=year)
with phone.two_per_row("fs_kpis"):
    c1, c2, c3, c4 = st.columns(4)
c1.metric(edge.t("kpi_blacklisted"), f"{k['blacklisted']:,}", border=True)
c2.metric(edge.t("kpi_high_risk"), f"{k['high_risk']:,}", border=True)
c3.metric(edge.t("fs_kpi_insp_year", year=year), f"{k['inspections']:,}",
          delta=f"{edge.t('fs_col_problems')} {k['problem_inspections']:,}", delta_color="off", delta_arrow="off",
          border=True)
c4.metric(edge.t("fs_kpi_rect_year", year=year), f"{k['rectification_firms']:,}",
          delta=edge.t("fs_kpi_rect_orders", n=k["rectification_orders"]), delta_color="off", delta_arrow="off",
          help=edge.t("fs_kpi_rect_help"), border=True)
st.caption(edge.t("fs_kpi_scope"))

# ---- filters shared by the map, the list and the exports -----------------------------------------
villages = dict(zip(opts["villages"]["code"], opts["villages"]["name_zh" if lang == "zh" else "name_en"],
                    strict=True))
grids = dict(zip(opts["grids"]["grid_id"], opts["grids"]["name"], strict=True))
with st.expander(edge.t("fs_filters"), expanded=True):
    f1, f2, f3, f4, f5 = st.columns([1.5, 1, 1, 1, 1])
    levels = f1.multiselect(S.column_label("firms", "risk_level", lang), list(safety.RISKY_LEVELS),
                            format_func=lambda c: S.RISK_LEVEL.label(c, lang), key="f_level", select_all=False)
    statuses = f2.multiselect(S.column_label("firms", "list_status", lang), list(S.LIST_STATUS.codes),
                              format_func=lambda c: S.LIST_STATUS.label(c, lang), key="f_status",
                              placeholder=edge.t("fs_all"), select_all=False)
    chosen_villages = f3.multiselect(S.column_label("firms", "village_code", lang), list(villages),
                                     format_func=villages.get, key="f_village", placeholder=edge.t("fs_all"),
                                     select_all=False)
    grid_choices = [g for g, v in zip(opts["grids"]["grid_id"], opts["grids"]["village_code"], strict=True)
                    if not chosen_villages or v in chosen_villages]
    chosen_grids = f4.multiselect(S.column_label("firms", "grid_id", lang), grid_choices,
                                  format_func=lambda g: views.grid_text(g, grids.get(g)), key="f_grid",
                                  placeholder=edge.t("fs_all"), select_all=False)
    industries = f5.multiselect(S.column_label("firms", "industry", lang), list(opts["industries"]["industry"]),
                                format_func=lambda c: S.INDUSTRY.label(c, lang), key="f_industry",
                                placeholder=edge.t("fs_all"), select_all=False)
where = {"villages": tuple(chosen_villages), "grids": tuple(chosen_grids), "industries": tuple(industries)}
risky = edge.shared(views.risky_firms_view, role=role, as_of=as_of, lang=lang, risk_levels=tuple(levels),
                   statuses=tuple(statuses), layer_id=RISKY_LAYER, point_budget=mapdata.point_budget(),
                   **where)  # the list and its map layer (a marker a firm, or a bubble per square)
firms = risky.frame
filters = {"risk_level": levels, "list_status": statuses, **{k_: list(v) for k_, v in where.items()}}
gist = ([villages.get(v) for v in chosen_villages], [S.RISK_LEVEL.label(c, lang) for c in levels]
        if set(levels) != set(safety.RISKY_LEVELS) else [], [S.LIST_STATUS.label(c, lang) for c in statuses])


def export_name(what: str, *extra: object) -> str:
    """地块_石湖村委会_已释放_2026-11-20: the table, the filter's gist and the data date."""
    return file_name(edge.t(what), *gist, *extra, day=as_of, lang=lang)

# ---- only the open tab is built; the near-land check's values are kept for the map's highlight -----
firm_story.keep_tab_widgets()
tab = tabs.open_tabs({code: edge.t(f"fs_tab_{code}") for code in firm_story.TABS}, key="fs_tabs",
                     state=firm_story.TAB)
if tab["near"]:
    with tab["near"]:
        st.caption(edge.t("fs_near_caption"))
        n1, n2 = st.columns([1, 2])
        n1.slider(edge.t("fs_near_distance"), 0, 1000, step=25, key="near_distance")
        n2.multiselect(edge.t("fs_near_parcel_status"), list(S.RELEASE_STATUS.codes), key="near_status",
                       format_func=lambda c: S.RELEASE_STATUS.label(c, lang), select_all=False)
distance, parcel_statuses = int(st.session_state["near_distance"]), list(st.session_state["near_status"])
near_args = {"role": role, "as_of": as_of, "distance_m": float(distance), "risk_levels": tuple(levels),
             "parcel_statuses": tuple(parcel_statuses)}
if tab["near"]:
    with tab["near"]:
        near = edge.shared(views.near_land_view, **near_args).near  # one row per firm; the pairs are exported
        m1, m2 = st.columns(2)
        m1.metric(edge.t("fs_near_firms"), f"{len(near.firms):,}", border=True)
        m2.metric(edge.t("fs_near_parcels"), f"{near.parcels:,}", border=True)
        st.caption(edge.t("fs_near_per_firm", pairs=near.pairs))
        firm_story.pickable_table(near.firms, key="near_table", lang=lang)
        store = edge.store()

        def near_pairs():  # every (parcel, firm) pair, built on click only, on a cursor of its own
            return views.for_export(safety.near_released_land(store.cursor(), **near_args), lang=lang)

        edge.export_buttons(near_pairs, table="firms", name=export_name("fs_file_near", f"{distance}m"), geometry=True,
                            filters={**filters, "distance_m": distance, "parcel_status": parcel_statuses})

# ---- map ----------------------------------------------------------------------------------------
if tab["map"]:
    with tab["map"]:
        show_ordinary = st.toggle(edge.t("fs_show_ordinary"), key="show_ordinary")
        # the land within the polygon budget (parks or grid cells beyond it), outlines within it too
        budget = mapdata.polygon_budget()
        land = edge.shared(mapdata.parcel_view, as_of=as_of, lang=lang, statuses=tuple(parcel_statuses),
                          budget=budget, layer_id="release-parcels")
        context = edge.shared(views.map_context, lang=lang, budget=budget)
        layers = [land.layer, *context.layers]
        points = risky.legend_points(lang) or [(S.RISK_LEVEL.label(c, lang), maps.RISK_COLORS[c]) for c in levels]
        if show_ordinary:
            n_ordinary = edge.query(safety.ordinary_firm_count, **where)
            if n_ordinary > safety.DENSITY_THRESHOLD:
                layers.append(views.density_layer(edge.query(safety.ordinary_firm_density, **where)))
                st.caption(edge.t("fs_density_caption", n=n_ordinary))
            else:
                ordinary = edge.query(safety.ordinary_firm_points, role=role, **where)
                layers.append(maps.firms_layer(ordinary, lang=lang, layer_id=ORDINARY_LAYER, radius_px=4))
                points.append((S.RISK_LEVEL.label("normal", lang), maps.RISK_COLORS["normal"]))
        # the map rings the near-land firms; not around squares (they would ring nobody), so then
        # the near-land join is not asked for
        near_view = None if risky.clustered else edge.shared(views.near_land_view, **near_args)
        if near_view is not None and len(near_view.near.firms):
            layers.append(near_view.rings)
            points.append((edge.t("fs_legend_near", d=distance), [123, 50, 148]))
        layers.append(risky.layer)
        focus = st.session_state.get(firm_story.FOCUS)
        focus_story = edge.query(safety.firm_story, role=role, firm_id=focus, as_of=as_of) if focus else None
        deck = firm_story.map_deck(layers, focus_story["firm"] if focus_story else None, points=firms, lang=lang)
        st.pydeck_chart(deck, height=600, key="firms_map", selection_mode="single-object",
                        on_select=firm_story.on_map_click("firms_map", (RISKY_LAYER, ORDINARY_LAYER)))
        items = (mapdata.legend_items(land, lang) if land.aggregated
                 else [(S.RELEASE_STATUS.label(c, lang), maps.STATUS_COLORS[c]) for c in parcel_statuses])
        view = deck.initial_view_state
        mapnote.tile_check(center=(focus_story["firm"]["lon"], focus_story["firm"]["lat"]) if focus_story
                           else edge.query(queries.view_center), zoom=view.zoom)
        st.markdown(maps.legend_html(items + context.legend_items(lang), points=points, lang=lang,
                                     scale=(view.latitude, view.zoom)), unsafe_allow_html=True)
        st.caption(edge.t("fs_map_caption"))
        for note in (risky.caption(lang), mapdata.caption(land, lang), context.caption(lang)):
            if note:
                st.caption(note)
        if risky.brief:
            st.caption(edge.t("fs_brief_tooltips", n=len(firms), budget=views.FIRM_TOOLTIP_BUDGET))

# ---- list ---------------------------------------------------------------------------------------
if tab["list"]:
    with tab["list"]:
        st.caption(edge.t("fs_list_caption", n=len(firms)))
        firm_story.pickable_table(firms.drop(columns=["park_id"]), key="firm_list", lang=lang, keep_village=True)
        edge.export_buttons(views.for_export(firms.drop(columns=["lon", "lat", "village_zh", "village_en"]),
                                             lang=lang), table="firms", name=export_name("fs_file_risky"),
                            filters=filters)

# ---- inspections --------------------------------------------------------------------------------
if tab["inspections"]:
    with tab["inspections"]:
        firm_story.inspections_tab(k, year=year, as_of=as_of, role=role, lang=lang)

# ---- the story of one firm, and the state in the URL ----------------------------------------------
firm_story.story_panel(story, lang=lang)
urlstate.write(params, page="firms")
