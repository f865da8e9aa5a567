"""The audit log for leaders: every export and import, newest first, and whether the chain holds."""

import streamlit as st

import edge
from dayuan_geo import access, audit, audit_views
from dayuan_geo.text import md_text

if not access.role(edge.role()).sees_audit:  # navigation hides the page already; this holds if it did not
    st.stop()
lang = edge.lang()

st.title(edge.t("audit_title"))
st.caption(edge.t("audit_caption"))

problems = audit.verify()
if problems:  # the problems quote lines of the log: literal text
    st.error(edge.t("audit_broken") + "\n\n" + "\n".join(f"- {md_text(p)}" for p in problems[:20]))
else:
    st.success(edge.t("audit_intact"))

entries = audit.read()
if not entries:
    st.info(edge.t("audit_empty"))
    st.stop()

left, right = st.columns(2)
actions = left.multiselect(edge.t("audit_action"), list(audit.ACTIONS), default=list(audit.ACTIONS),
                           format_func=lambda a: edge.t(f"audit_{a}"), select_all=False)
users = sorted({str(e.get("user", "")) for e in entries})
chosen = right.multiselect(edge.t("audit_user"), users, default=users, select_all=False)
shown = [e for e in entries
         if ("unreadable" in e) or (e.get("action") in actions and str(e.get("user", "")) in chosen)]
st.dataframe(audit_views.entries_frame(shown, lang=lang), hide_index=True, width="stretch")
