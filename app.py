"""Router: page config, the dataset version and identity pinned for this run, the shared sidebar,
and the pages this user may open."""

import streamlit as st

import edge
from edge import phone

st.set_page_config(page_title="大源街道土地释放看板 · Dayuan", page_icon="🗺️", layout="wide")
edge.pin()  # one dataset version for the whole run, whatever is published meanwhile

pages = [
    # served at the root; Streamlit reserves a default page's url_path, so /overview is its hidden
    # twin (edge.allowed_pages, access.PAGE_ALIASES)
    st.Page("pages/overview.py", title=edge.t("page_overview"), icon=":material/dashboard:", url_path="home",
            default=True),
    st.Page("pages/land.py", title=edge.t("page_land"), icon=":material/map:", url_path="land"),
    st.Page("pages/remediation.py", title=edge.t("page_remediation"), icon=":material/construction:",
            url_path="remediation"),
    st.Page("pages/firms.py", title=edge.t("fs_page"), icon=":material/gpp_maybe:", url_path="firms"),
    st.Page("pages/import.py", title=edge.t("page_import"), icon=":material/upload_file:", url_path="import"),
    st.Page("pages/audit.py", title=edge.t("page_audit"), icon=":material/receipt_long:", url_path="audit"),
]
navigation = st.navigation(edge.allowed_pages(pages))  # by role (access.PAGE_ROLES); sign-in first
edge.sidebar()
edge.phone_stamp(navigation)  # the data date and demo label where a phone folds the sidebar away
phone.touch_tables()  # a table's toolbar, always shown on a touch screen, covers nothing
navigation.run()
