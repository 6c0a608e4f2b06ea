"""Results: run records, the run store and its SQLite index, entries, standings, export, citation, reproduce."""
