"""Ray: data-parallel runs (Ray Train), sweeps (Ray tasks) and tuning (Ray Tune); ray is imported lazily."""
