"""The audit log for leaders: every export and import, newest first, and whether the chain holds."""

import json

import pandas as pd
import streamlit as st

import edge
from dayuan_geo import access, audit

if not access.role(edge.role()).sees_audit:  # navigation hides the page already; this holds if it did not
    st.stop()

st.title(edge.t("audit_title"))
st.caption(edge.t("audit_caption"))

problems = audit.verify()
if problems:
    st.error(edge.t("audit_broken") + "\n\n" + "\n".join(f"- {p}" for p in problems[:20]))
else:
    st.success(edge.t("audit_intact"))

entries = audit.read()
if not entries:
    st.info(edge.t("audit_empty"))
    st.stop()

left, right = st.columns(2)
actions = left.multiselect(edge.t("audit_action"), list(audit.ACTIONS), default=list(audit.ACTIONS),
                           format_func=lambda a: edge.t(f"audit_{a}"))
users = sorted({str(e.get("user", "")) for e in entries})
chosen = right.multiselect(edge.t("audit_user"), users, default=users)

rows = [
    {
        edge.t("audit_at"): e.get("at"),
        edge.t("audit_user"): e.get("user"),
        edge.t("audit_role"): e.get("role"),
        edge.t("audit_action"): edge.t(f"audit_{e['action']}") if e.get("action") in audit.ACTIONS else "",
        edge.t("audit_what"): e.get("what", e.get("unreadable", "")),
        edge.t("audit_filters"): json.dumps(e.get("filters") or {}, ensure_ascii=False, default=str),
        edge.t("audit_rows"): e.get("rows"),
        edge.t("audit_detail"): json.dumps(e.get("detail") or {}, ensure_ascii=False, default=str),
    }
    for e in entries
    if ("unreadable" in e) or (e.get("action") in actions and str(e.get("user", "")) in chosen)
]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
