"""What the remediation tracker's page shows, built once per dataset version, filter and language.

The page used to redo everything on each rerun: filter every project and stage stay in pandas (200,300
and 863,480 at scale L), label the tables, build the charts and the parks layer: 4.0 s at L, 0.63 s
at M. Each function here takes a cursor and returns what the page puts on screen (counts, figures,
tables cut to settings.screen_rows(), layers), so the app caches it with `edge.query` and a rerun only
unpickles it. Figures are kept as plain dicts: a pickled go.Figure validates every property again
when it is loaded (7-10 ms each), a dict does not, and st.plotly_chart takes either. `export_table`
builds a whole list, for a download, when it is clicked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pydeck as pdk

from dayuan_geo import schema as S
from dayuan_geo import settings
from dayuan_geo.maps import budget as mapbudget
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries
from dayuan_geo.remediation import charts as RC
from dayuan_geo.remediation import queries as R

Cursor = queries.Cursor


def village_names(cur: Cursor, *, lang: str = "zh") -> dict[str, str]:
    """Village code to name in lang."""
    v = queries.outlines(cur, table_name="villages")
    return dict(zip(v["id"], v["label_zh" if lang == "zh" else "label_en"], strict=True))


def _projects(cur: Cursor, *, as_of: dt.date, stalled_days: int, modes: tuple[str, ...],
              villages: tuple[str, ...]) -> pd.DataFrame:
    return R.filter_projects(R.project_list(cur, as_of=as_of, stalled_days=stalled_days), modes=modes,
                             villages=villages)


@dataclass(frozen=True)
class Tracker:
    """Everything the page shows for one selection except the map; figures as dicts."""

    projects: int
    completed: int
    late: int
    stuck: int
    released_m2: float
    park_area_m2: float
    pipelines: dict[tuple[str, str], dict]  # (measure, split) -> the stage pipeline chart
    gantt: dict
    gantt_shown: int
    late_table: pd.DataFrame  # labelled for the screen, the first settings.screen_rows() rows
    stuck_table: pd.DataFrame
    durations: dict[bool, tuple[dict, pd.DataFrame]]  # with stages still open? -> chart, table
    progress: dict
    project_table: pd.DataFrame


def tracker(
    cur: Cursor, *, as_of: dt.date, stalled_days: int = R.DEFAULT_STALLED_DAYS, modes: tuple[str, ...] = (),
    villages: tuple[str, ...] = (), lang: str = "zh", rows: int | None = None,
) -> Tracker:
    """The tracker for the projects of the given modes and villages (empty: all) on as_of, with
    every chart variant the page's switches offer, so flipping one needs no rebuilding; its tables
    hold their first `rows` rows (default settings.screen_rows())."""
    rows = settings.screen_rows() if rows is None else rows
    names = village_names(cur, lang=lang)
    projects = _projects(cur, as_of=as_of, stalled_days=stalled_days, modes=modes, villages=villages)
    history = R.stage_history(cur, as_of=as_of, modes=modes, villages=villages, brief=True)
    late, stuck = R.late_projects(projects), R.stuck_projects(projects)
    pipelines = {}
    for split in R.SPLITS:
        pipeline = R.stage_pipeline(projects, split=split)
        groups = pipeline["group"].drop_duplicates()
        labels = {g: S.REMEDIATION_MODE.label(g, lang) if split == "mode" else names.get(g, g) for g in groups}
        for measure in R.MEASURES:
            pipelines[(measure, split)] = RC.pipeline_chart(pipeline, measure=measure, group_labels=labels,
                                                            lang=lang).to_dict()
    on_timeline = R.gantt_selection(projects)
    durations = {}
    for ongoing in (True, False):
        stays = history if ongoing else history[~history["ongoing"].astype(bool)]
        table = R.labelled(R.stage_durations(history, include_ongoing=ongoing), R.DURATION_COLUMNS, lang=lang,
                           table="remediation_events", screen=True)
        durations[ongoing] = (RC.durations_chart(stays, lang=lang).to_dict(), table)

    def shown(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        return R.labelled(frame.head(rows), columns, lang=lang, villages=names, screen=True)

    return Tracker(
        projects=len(projects), completed=int(projects["is_completed"].sum()), late=len(late), stuck=len(stuck),
        released_m2=float(projects["released_m2"].sum()), park_area_m2=float(projects["park_area_m2"].sum()),
        pipelines=pipelines, gantt=RC.gantt(on_timeline, history, as_of=as_of, lang=lang).to_dict(),
        gantt_shown=len(on_timeline), late_table=shown(late, R.LATE_COLUMNS),
        stuck_table=shown(stuck, R.STUCK_COLUMNS), durations=durations,
        progress=RC.progress_chart(projects, lang=lang).to_dict(),
        project_table=shown(projects, R.PROJECT_COLUMNS),
    )


EXPORTS = ("late", "stuck", "projects", "history")


def export_table(
    cur: Cursor, *, which: str, as_of: dt.date, stalled_days: int = R.DEFAULT_STALLED_DAYS,
    modes: tuple[str, ...] = (), villages: tuple[str, ...] = (), lang: str = "zh",
) -> pd.DataFrame:
    """A whole list of the selection as the page shows it (labels, headers in lang): the late, the
    stuck, every project, or the stage history."""
    if which not in EXPORTS:
        raise ValueError(f"unknown list {which!r}; choose one of {', '.join(EXPORTS)}")
    names = village_names(cur, lang=lang)
    if which == "history":
        history = R.stage_history(cur, as_of=as_of, modes=modes, villages=villages)
        return R.labelled(history, R.HISTORY_COLUMNS, lang=lang, villages=names, table="remediation_events")
    projects = _projects(cur, as_of=as_of, stalled_days=stalled_days, modes=modes, villages=villages)
    rows, columns = {"late": (R.late_projects, R.LATE_COLUMNS), "stuck": (R.stuck_projects, R.STUCK_COLUMNS),
                     "projects": (lambda p: p, R.PROJECT_COLUMNS)}[which]
    return R.labelled(rows(projects), columns, lang=lang, villages=names)


@dataclass(frozen=True)
class ParkMap:
    """The parks map of a selection: its layers, the parks selected and those drawn (by name)."""

    layers: list[pdk.Layer]
    parks: int  # parks of the selection
    names: dict[str, str]  # park id -> name of the parks drawn, the story's choices

    @property
    def shown(self) -> int:
        return len(self.names)


def park_map(
    cur: Cursor, *, as_of: dt.date, stalled_days: int = R.DEFAULT_STALLED_DAYS, modes: tuple[str, ...] = (),
    villages: tuple[str, ...] = (), color_by: str = "stage", lang: str = "zh",
    budget: int = mapbudget.DEFAULT_POLYGON_BUDGET,
) -> ParkMap:
    """Park outlines coloured by stage or lateness, at most budget of them (the most urgent: the one
    map budget of maps.budget), with the village outlines and names."""
    names = village_names(cur, lang=lang)
    parks = R.parks_for_map(cur, as_of=as_of, stalled_days=stalled_days)
    if modes or villages:
        projects = _projects(cur, as_of=as_of, stalled_days=stalled_days, modes=modes, villages=villages)
        parks = parks[parks["project_id"].isin(set(projects["project_id"]))]
    total = len(parks)
    parks = R.most_urgent(parks, limit=budget)
    outlines = queries.outlines(cur, table_name="villages")
    layers = [
        RC.parks_layer(parks, color_by=color_by, lang=lang, villages=names, layer_id="parks"),
        maps.outline_layer(outlines, layer_id="village-outlines"),
        maps.label_layer(outlines, lang=lang, layer_id="village-labels"),
    ]
    return ParkMap(layers, total, dict(zip(parks["park_id"], parks["park_name"], strict=True)))


MAP_WIDTH_PX = 640  # the park map on a 1440 px screen, beside the park's story
PICK_LIMIT = 100  # parks the story's picker lists at once (3,000 were 0.09 MB of page at scale M)


def park_names(cur: Cursor) -> dict[str, str]:
    """Every park's id and name: what the story's search looks through (any park, whatever the filters)."""
    return dict(cur.execute("SELECT park_id, name FROM parks ORDER BY park_id").fetchall())


def park_choices(names: dict[str, str], *, drawn: list[str], search: str = "", chosen: str | None = None,
                 limit: int = PICK_LIMIT) -> tuple[list[str], int]:
    """The parks the story's picker lists, and how many it could have: with a search, the parks whose
    id or name holds it (any case); without, the parks the map draws (most urgent first). At most
    limit, and the park whose story is open always among them."""
    needle = search.strip().casefold()
    pool = ([p for p, name in names.items() if needle in p.casefold() or needle in str(name).casefold()]
            if needle else [p for p in drawn if p in names])
    listed = pool[:limit]
    if chosen in names and chosen not in listed:
        listed.insert(0, chosen)
    return listed, len(pool)
