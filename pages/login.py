"""Sign-in: a local account's name and password (Enter submits), or the organisation's provider."""

import streamlit as st

import edge

st.title(edge.t("login_title"))

if edge.oidc_enabled():
    if st.button(edge.t("login_oidc"), type="primary", icon=":material/login:"):
        st.login()
else:
    with st.form("login", clear_on_submit=True, enter_to_submit=True):
        name = st.text_input(edge.t("login_user"), max_chars=64, autocomplete="username")
        password = st.text_input(edge.t("login_password"), type="password", max_chars=128,
                                 autocomplete="current-password")
        submitted = st.form_submit_button(edge.t("login_submit"), type="primary")
    if submitted:
        verdict = edge.sign_in(name, password)
        if verdict.ok:
            st.rerun()
        elif verdict.locked_for > 0:
            st.error(edge.t("login_locked", seconds=max(1, round(verdict.locked_for))))
        else:
            st.error(edge.t("login_failed"))
