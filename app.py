"""Router: page config, the shared sidebar, and the pages this user may open."""

import streamlit as st

import edge

st.set_page_config(page_title="大源街道土地释放看板 · Dayuan", page_icon="🗺️", layout="wide")

pages = [
    st.Page("pages/overview.py", title=edge.t("page_overview"), icon="📊", url_path="overview",
            default=True),
    st.Page("pages/land.py", title=edge.t("page_land"), icon="🗺️", url_path="land"),
    st.Page("pages/remediation.py", title=edge.t("page_remediation"), icon="🏗️", url_path="remediation"),
    st.Page("pages/audit.py", title=edge.t("page_audit"), icon="🧾", url_path="audit"),
    st.Page("pages/firms.py", title=edge.t("fs_page"), icon="🚨", url_path="firms"),
    st.Page("pages/import.py", title=edge.t("page_import"), icon="📥", url_path="import"),
]
navigation = st.navigation(edge.allowed_pages(pages))  # by role (access.PAGE_ROLES); sign-in first
edge.sidebar()
navigation.run()
