"""Shown at the address of a page the signed-in role may not open (wired by edge.allowed_pages as a
hidden page under that page's url_path), instead of Streamlit's "page not found" and a silent jump."""

import streamlit as st

import edge
from dayuan_geo import access

role = edge.role()
st.title(edge.t("not_allowed_title"))
st.warning(edge.t("not_allowed_body", role=access.role(role).label(edge.lang())), icon=":material/lock:")
st.markdown(f"[{edge.t('not_allowed_back')}](./)")  # the default page, relative to where the app is served
