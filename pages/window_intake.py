"""Placeholder: being built (issue 3)."""
import streamlit as st

st.info("建设中 / under construction")
