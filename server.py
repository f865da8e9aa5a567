"""The served app (`make run`: streamlit run server.py): the router app.py, with the session-cookie
routes and the HTTP rules of edge/http.py. (This file is an entry point like app.py; Streamlit finds
the app by reading this file for an `st.App(...)` call, so it has to name Streamlit here.)"""

import streamlit as st

from edge.http import MIDDLEWARE, ROUTES, refuse_clear_cache, router_from_the_start

refuse_clear_cache()  # any client could empty every cache of the process
router_from_the_start()  # the first session after a start too
app = st.App("app.py", routes=ROUTES, middleware=MIDDLEWARE)
