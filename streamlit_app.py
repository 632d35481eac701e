"""dinoad dashboard: ``streamlit run streamlit_app.py``.

The shell: page config, the current project in the sidebar (and in the URL), and the pages.
"""

import logging

import streamlit as st

import app_support

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="dinoad", page_icon=":material/search:", layout="wide")
app_support.require_login()

pages = [
    st.Page(app_support.PAGES["projects"], title="Projects", icon=":material/folder:", default=True),
    st.Page(app_support.PAGES["capture"], title="Capture", icon=":material/photo_camera:"),
    st.Page(app_support.PAGES["train"], title="Train", icon=":material/model_training:"),
    st.Page(app_support.PAGES["validation"], title="Validation", icon=":material/analytics:"),
    st.Page(app_support.PAGES["live"], title="Live", icon=":material/videocam:"),
]
navigation = st.navigation(pages)
app_support.sync_project_from_url()
app_support.sidebar_project_picker()
app_support.show_flash()
navigation.run()
