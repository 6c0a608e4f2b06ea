"""CXR-Bench leaderboard: the Streamlit app, its plotly figures and the saliency gallery."""
