"""What the overview page shows, built from the queries: the data stamp, the KPI and pace cards (each
with the page and filter behind it) and the village ranking. The page only lays them out."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.overview import attention
from dayuan_geo.overview.queries import DEFAULT_STALLED_DAYS
from dayuan_geo.text import fmt_area, t

# Release statuses that count as land released (the parcel reached "released" or went beyond it).
RELEASED_STATUSES = ("released", "transferred", "under_construction", "completed")
PAGE_FILES = {"land": "pages/land.py", "remediation": "pages/remediation.py", "firms": "pages/firms.py"}


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    delta: str | None = None
    delta_color: str = "off"
    help: str | None = None
    page: str | None = None  # the page behind the figure (url path), if the role may open it
    params: tuple[tuple[str, str | tuple[str, ...]], ...] = ()  # its query parameters

    @property
    def page_file(self) -> str | None:
        return PAGE_FILES.get(self.page) if self.page else None


def source_label(manifest: dict, lang: str) -> tuple[str, str | None]:
    """The data's source as the sidebar names it, and the demo label when (some of) it is demo data."""
    if manifest.get("source") == "demo":
        label = t("demo_badge", lang)
        return label, label
    if manifest.get("demo_tables"):
        names = "、".join(S.table(n).label(lang) for n in manifest["demo_tables"] if n in S.TABLES)
        label = t("demo_mixed_badge", lang, tables=names)
        return label, label
    return t("imported_badge", lang), None


def stamp(manifest: dict, lang: str) -> tuple[str, str | None]:
    """The line naming the data date, version and source, and the demo label if any."""
    source, demo = source_label(manifest, lang)
    return t("ov_stamp", lang, day=manifest.get("as_of"), version=manifest.get("dataset_version"),
             source=source), demo


def _signed(m2: float, lang: str) -> str:
    return ("+" if m2 >= 0 else "-") + fmt_area(abs(m2), lang)


def _open(role: str, page: str, **params: str | tuple[str, ...]) -> dict:
    if not access.may_open(page, role):
        return {}
    return {"page": page, "params": tuple(params.items())}


def kpi_cards(k: dict, *, lang: str, role: str) -> list[Card]:
    """The eight headline cards, each linked to the page and filter that lists what it counts."""
    target = k["released_area_target_m2"]
    progress = f"{k['released_area_ytd_m2'] / target:.0%} · " if target else ""
    year = k["as_of"][:4]
    return [
        Card(t("kpi_released", lang), fmt_area(k["released_area_m2"], lang),
             delta=fmt_area(k["released_area_m2"] - k["released_area_month_ago_m2"], lang), delta_color="normal",
             help=t("kpi_released_help", lang), **_open(role, "land", status=RELEASED_STATUSES)),
        Card(t("kpi_year_target", lang), fmt_area(k["released_area_ytd_m2"], lang),
             delta=progress + (t("of_target", lang, target=fmt_area(target, lang)) if target else t("no_target", lang)),
             **_open(role, "land", released_from=f"{year}-01-01", released_to=k["as_of"])),
        Card(t("kpi_parcels", lang), f"{k['released_parcels']:,} / {k['parcels_total']:,}",
             **_open(role, "land", status=RELEASED_STATUSES)),
        Card(t("kpi_projects", lang), f"{k['remediation_projects_total']:,}",
             delta=f"{t('kpi_completed', lang)} {k['projects_completed']}", **_open(role, "remediation")),
        Card(t("kpi_overdue", lang), f"{k['projects_overdue']:,}", help=t("kpi_overdue_help", lang),
             **_open(role, "remediation")),
        Card(t("kpi_stalled", lang), f"{k['projects_stalled']:,}",
             help=t("kpi_stalled_help", lang, days=DEFAULT_STALLED_DAYS), **_open(role, "remediation")),
        Card(t("kpi_blacklisted", lang), f"{k['blacklisted_firms']:,}",
             delta=f"{t('kpi_high_risk', lang)} {k['high_risk_firms']}", **_open(role, "firms")),
        Card(t("kpi_inspections", lang), f"{k['inspections_ytd']:,}",
             delta=f"{t('kpi_rectification', lang)} {k['rectification_orders_ytd']}", **_open(role, "firms")),
    ]


def pace_cards(p: dict, *, lang: str) -> list[Card]:
    """Pace, not only progress: the year against the prorated target, the status and gap, this month
    against last month, and against the same month last year."""
    if p["target_m2"] is None:
        year = Card(t("ov_pace_ytd", lang), fmt_area(p["released_ytd_m2"], lang), delta=t("no_target", lang))
        status = Card(t("ov_status", lang), t("ov_status_no_target", lang))
    else:
        why = t("ov_pace_help", lang, target=fmt_area(p["target_m2"], lang))
        year = Card(t("ov_pace_ytd", lang), fmt_area(p["released_ytd_m2"], lang),
                    delta=t("ov_pace_due", lang, due=fmt_area(p["due_by_now_m2"], lang)), help=why)
        status = Card(t("ov_status", lang), t(f"ov_status_{p['status']}", lang),
                      delta=_signed(p["gap_m2"], lang), delta_color="normal", help=why)
    month = Card(t("ov_month", lang, month=p["month"]), fmt_area(p["month_m2"], lang),
                 delta=t("ov_vs_last_month", lang, delta=_signed(p["month_m2"] - p["last_month_m2"], lang)),
                 delta_color="normal", help=f"{t('ov_last_month', lang, month=p['last_month'])}: "
                                            f"{fmt_area(p['last_month_m2'], lang)}")
    year_ago = Card(t("ov_year_ago", lang, month=p["year_ago_month"]), fmt_area(p["year_ago_month_m2"], lang),
                    delta=t("ov_vs_year_ago", lang, delta=_signed(p["month_m2"] - p["year_ago_month_m2"], lang)),
                    delta_color="normal")
    return [year, status, month, year_ago]


VILLAGE_COLUMNS = ("village", "released_m2", "released_ytd_m2", "target_share_m2", "share_of_target",
                   "overdue", "stalled", "risky")


def village_table(ranking: pd.DataFrame, *, lang: str, role: str) -> pd.DataFrame:
    """The village ranking as read: released area, share of the year's target done, overdue and
    stalled projects, risky firms (counts only), and the link to the village's projects or land."""
    page = "remediation" if access.may_open("remediation", role) else "land"
    out = ranking.rename(columns={"name_zh" if lang == "zh" else "name_en": "village"})[list(VILLAGE_COLUMNS)].copy()
    for col in ("released_m2", "released_ytd_m2", "target_share_m2"):
        out[col] = out[col].astype("float64").round(0)
    out[attention.LINK] = [attention.link(page, lang=lang, village=code) for code in ranking["village_code"]]
    return out.reset_index(drop=True)
