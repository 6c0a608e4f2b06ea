"""Page scripts of the leaderboard (run by Streamlit through st.navigation in leaderboard/app.py)."""
