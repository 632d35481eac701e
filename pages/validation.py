"""Validation: placeholder until the calibration charts are wired in (next commit)."""

import streamlit as st

st.title("Validation")
st.info("The Validation page is being built.")
