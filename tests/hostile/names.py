"""A demo dataset whose villages, parks, parcels, risky firms and remediation responsible units
carry hostile names: HTML, a markdown link, bare URLs, LaTeX and a right-to-left override."""

from __future__ import annotations

from pathlib import Path

from dayuan_geo.dataset.versions import publish
from dayuan_geo.demo import build as demo

HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "http://evil.example",
    "www.evil.example",
    "$\\frac{1}{2}$",
    "\u202e反转名称",
)
FIRM_SUFFIX, PARCEL_SUFFIX, PARK_SUFFIX = "公司", "地块", "园"


def write_hostile_dataset(path: Path) -> dict[str, str]:
    """Publish the hostile dataset to path; returns the IDs of a hostile firm, parcel and park, and
    `firm<i>` for the firm named after HOSTILE[i]."""
    tables = demo.build(seed=demo.DEFAULT_SEED, scale="S", as_of=demo.DEFAULT_AS_OF)
    villages, parks, parcels = tables["villages"], tables["parks"], tables["parcels"]
    firms, projects = tables["firms"], tables["remediation_projects"]
    for i, name in enumerate(HOSTILE[: len(villages)]):
        villages.loc[villages.index[i], ["name_zh", "name_en"]] = [f"{name}村", f"{name} Village"]
    for i, name in enumerate(HOSTILE):
        parks.loc[parks.index[i], ["name", "name_en"]] = [f"{name}{PARK_SUFFIX}", f"{name} Park"]
        parcels.loc[parcels.index[i], "name"] = f"{name}{PARCEL_SUFFIX}"
        projects.loc[projects.index[i], "responsible_unit"] = f"{name}单位"
    risky = firms.index[firms["risk_level"] != "normal"]
    for i, name in enumerate(HOSTILE):
        firms.loc[risky[i], "name"] = f"{name}{FIRM_SUFFIX}"
    publish(path, tables, source="demo", as_of=demo.DEFAULT_AS_OF, note="hostile names")
    return {**{f"firm{i}": str(firms.at[risky[i], "firm_id"]) for i in range(len(HOSTILE))},
            "firm": str(firms.at[risky[0], "firm_id"]), "parcel": str(parcels.at[parcels.index[1], "parcel_id"]),
            "park": str(parks.at[parks.index[0], "park_id"])}
