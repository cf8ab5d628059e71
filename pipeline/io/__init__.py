"""write: the run's output files (results, findings, rejects, manifest)."""
