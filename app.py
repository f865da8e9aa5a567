"""Router: page config, the shared sidebar, and the pages this user may open."""

import streamlit as st

import edge

st.set_page_config(page_title="大源街道土地释放看板 · Dayuan", page_icon="🗺️", layout="wide")

pages = [
    st.Page("pages/overview.py", title=edge.t("page_overview"), icon="📊", url_path="overview",
            default=True),
]
navigation = st.navigation(pages)
edge.sidebar()
navigation.run()
