"""What a run leaves behind, typed: its record (results.json, eval.json), the per-image record beside it, and the
provenance of every number (segbench.record.run, .per_image, .provenance)."""
