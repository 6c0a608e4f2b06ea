"""A citable archive of a task's standings, and its verification."""
