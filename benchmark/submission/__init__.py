"""Submissions: plugin models (``submissions/<team>/`` or an installed entry point) and prediction
files, validated strictly before anything runs or is recorded. See submissions/README.md."""
