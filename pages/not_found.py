"""Shown at an address no page of the app has (a mistyped or outdated link; wired by
edge.allowed_pages as a hidden page under that address), instead of Streamlit's English "page not
found" dialog over the overview."""

import streamlit as st

import edge
from dayuan_geo.text import md_text

edge.role()  # signed in, like every page
address = edge.page_address()
st.title(edge.t("not_found_title"))
st.warning(edge.t("not_found_body", address=md_text(f"/{address}")), icon=":material/link_off:")
st.markdown(f"[{edge.t('not_allowed_back')}](./)")  # the default page, relative to where the app is served
