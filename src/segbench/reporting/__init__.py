"""Tables, plots and terminal output made from runs (results.json, CSV logs, benchmark lines)."""
