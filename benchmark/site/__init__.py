"""The board as a static site: HTML pages, plots bundled, nothing fetched."""
