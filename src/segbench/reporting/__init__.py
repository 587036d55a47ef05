"""Tables, figures and dashboards made from runs (results.json, per_image.npz, CSV logs, benchmark lines).

Their libraries are the `report` extra, checked here once for every module below (one line when missing).
"""

from segbench.extras import require

for _module in ("pandas", "tabulate", "jinja2", "matplotlib"):
    require(_module, "report")
