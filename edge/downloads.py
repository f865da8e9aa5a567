"""Download buttons for files the product builds on click (the monthly briefing), recorded in the
audit log by the operation that builds them; who and what are taken when the button is drawn."""

from __future__ import annotations

import streamlit as st

import edge
from dayuan_geo.briefing import files as briefing


def briefing_buttons(*, month: str, key: str = "briefing") -> None:
    """PDF and Word buttons for the month's briefing in the UI language, for the roles it is for."""
    role = edge.role()
    if role not in briefing.ROLES:
        return
    store, lang, who = edge.store(), edge.lang(), edge.identity()
    manifest = dict(store.manifest)
    cols = st.columns(len(briefing.FORMATS))
    for col, fmt in zip(cols, briefing.FORMATS, strict=True):

        def build(fmt: str = fmt) -> bytes:
            data, _ = briefing.build(store.cursor(), manifest=manifest, fmt=fmt, month=month, lang=lang,
                                     role=role, user=who.name if who else "")
            return data

        col.download_button(
            edge.t(f"ov_briefing_{fmt}"), data=build, file_name=briefing.file_name(month, fmt, lang),
            mime=briefing.MIME[fmt], key=f"{key}-{fmt}", on_click="ignore", icon=":material/description:",
        )
