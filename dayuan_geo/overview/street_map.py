"""The overview's map of the street, as leaders see it on a desktop or a phone: every parcel within
the map budget (parks or grid cells beyond it), the village outlines, the blacklisted firms, and the
village names placed clear of those firms (maps.place_labels) for the width the map is drawn at.

The map opens on the whole street at the zoom that fits the map's width: a phone's column is about
360 px, a desktop's about 1,000 px, and one zoom for both either cuts the street's edges on the phone
or leaves it small on the desktop. Built once per dataset version, role, language and width.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pydeck as pdk

from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view
from dayuan_geo.overview import queries

HEIGHT_PX = 560
DESKTOP_WIDTH_PX = 1_000
VILLAGE_LABEL_PX = 14


@dataclass(frozen=True)
class StreetMap:
    layers: list[pdk.Layer]
    view: dict[str, float]  # fit_view's answer for the street at width_px
    parcels: mapdata.MapView  # what the parcel layer stands for (legend, caption)

    def deck(self) -> pdk.Deck:
        return mapdata.deck(self.layers, center=(self.view["longitude"], self.view["latitude"]),
                            zoom=self.view["zoom"])


def street_map(cur: queries.Cursor, *, as_of: dt.date, role: str, lang: str, width_px: int = DESKTOP_WIDTH_PX,
               height_px: int = HEIGHT_PX, budget: int | None = None) -> StreetMap:
    """The overview map for a map width_px x height_px wide (the role decides what firm tooltips say)."""
    view = fit_view(queries.view_bounds(cur), width_px=width_px, height_px=height_px)
    parcels = mapdata.parcel_view(cur, as_of=as_of, lang=lang, budget=budget or mapdata.polygon_budget())
    firms = queries.firm_points(cur, role=role, risk_levels=("blacklisted",))
    villages = queries.outlines(cur, table_name="villages")
    layers = [
        parcels.layer,
        maps.outline_layer(villages, layer_id="village-outlines"),
        maps.placed_label_layer(villages, view=view, lang=lang, width_px=width_px, height_px=height_px,
                                points=firms[["lon", "lat"]], size_px=VILLAGE_LABEL_PX),
        maps.firms_layer(firms, lang=lang, layer_id="blacklisted-firms"),
    ]
    return StreetMap(layers, view, parcels)
