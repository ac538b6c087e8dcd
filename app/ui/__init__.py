"""Shared Streamlit UI helpers (the only part of app/ that imports Streamlit)."""
