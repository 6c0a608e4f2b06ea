"""The read-only leaderboard: Streamlit app and the pure functions it displays."""
