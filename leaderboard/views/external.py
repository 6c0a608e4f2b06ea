"""(stub) leaderboard page of this area; filled in by its work."""

from __future__ import annotations

import streamlit as st

st.info("Nothing to show yet.")
