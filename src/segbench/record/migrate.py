"""Bring records written before the typed run record up to it, once, in place:
`python -m segbench.record.migrate docs/results` (folders are searched for results.json, eval.json and benchmark
files). What an old record never held says "not recorded"; what its run's saved config knows (the seed, the
precision and layout it computed in, the paper's name of its network) is taken from there. The readers then need
no compatibility code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from segbench.paper import TABLE1, TABLE3
from segbench.record.provenance import NOT_RECORDED, Provenance
from segbench.record.run import EvalRecord, RunRecord, write_record
from segbench.utils import exit_on_user_error

BENCHMARK_LINES = ("*.jsonl",)
BENCHMARK_FILES = ("performance.json", "train-epoch.json")


def _saved_config(run_folder: Path) -> dict[str, Any]:
    path = run_folder / ".hydra" / "config.yaml"
    saved = yaml.safe_load(path.read_text()) if path.is_file() else None
    return saved if isinstance(saved, dict) else {}


def paper_name(content: dict[str, Any], saved: dict[str, Any]) -> str | None:
    """The paper's name of a run's network, for a record written before runs recorded it: the model config's
    `meta.paper_name` as the run saved it (a config with a meta block but no paper name: a network the paper lacks),
    else, for a config from before meta blocks, the name Table 1 or Table 3 gives the run's `model=` option.

    The one place that looks the paper's tables up by our option names: a renamed or new option would find nothing
    there, which is why runs now record the name their config gives.
    """
    model = saved.get("model")
    if isinstance(model, dict) and isinstance(model.get("meta"), dict):
        return model["meta"].get("paper_name")
    option = (content.get("choices") or {}).get("model")
    entry = TABLE1.get(option) or TABLE3.get(option)
    return entry["paper_name"] if entry else None


def _old_machine(record: dict[str, Any]) -> Provenance:
    """The provenance an old benchmark line implies: its `machine` (or `cpu`, `threads`), the rest not recorded."""
    machine = record.pop("machine", None) or {}
    known: dict[str, Any] = {}
    if "cpu" in machine or "cpu" in record:
        known["cpu"] = machine.get("cpu") or record.pop("cpu")
    if "cpu_flags" in machine:
        known["cpu_flags"] = machine["cpu_flags"]
    if "onednn_max_cpu_isa" in machine:
        known["onednn_max_cpu_isa"] = machine["onednn_max_cpu_isa"]
    if "threads" in machine or "threads" in record:
        known["threads"] = machine.get("threads") or record.pop("threads")
    provenance = Provenance.not_recorded(**known)
    if "torch" in machine:
        provenance = provenance.model_copy(update={"versions": {**provenance.versions, "torch": machine["torch"]}})
    return provenance


def migrate_run(file: Path) -> bool:
    """results.json: each piece an older writer did not record filled on its own (provenance with the seed and
    compute path of its time, the paper's name of the network); False when it needed nothing."""
    content = json.loads(file.read_text())
    saved = _saved_config(file.parent)
    changed = False
    if "provenance" not in content:
        precision = (saved.get("trainer") or {}).get("precision")
        if "compute_path" not in content and precision is not None:
            channels_last = bool((saved.get("task") or {}).get("channels_last", True))
            content["compute_path"] = {
                "precision": precision,
                "channels_last": channels_last,
                "decided_by": NOT_RECORDED,
            }
        content.setdefault("seed", saved.get("seed"))
        content.setdefault("status", "complete")
        label = RunRecord.model_validate({**content, "provenance": Provenance.not_recorded()}).compute_path
        content["provenance"] = Provenance.not_recorded(precision=label.label if label else None).model_dump()
        changed = True
    # A record that holds the key knows: null there is a network the paper does not have.
    if "paper_name" not in content:
        content["paper_name"] = paper_name(content, saved)
        changed = True
    if changed:
        write_record(RunRecord.model_validate(content), file)
    return changed


def migrate_evaluation(file: Path) -> bool:
    """eval.json: provenance added where missing."""
    content = json.loads(file.read_text())
    if "provenance" in content:
        return False
    content["provenance"] = Provenance.not_recorded()
    write_record(EvalRecord.model_validate(content), file)
    return True


def migrate_benchmark(file: Path) -> bool:
    """A benchmark's JSON lines or JSON file: each line's (or the file's) provenance from its old machine fields."""
    if file.suffix == ".jsonl":
        lines = [json.loads(text) for text in file.read_text().splitlines() if text.strip()]
        if all("provenance" in line for line in lines):
            return False
        for line in lines:
            line.setdefault("provenance", _old_machine(line).model_dump())
        file.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return True
    content = json.loads(file.read_text())
    if "provenance" in content:
        return False
    content = {"provenance": _old_machine(content).model_dump(), **content}
    file.write_text(json.dumps(content, indent=2) + "\n")
    return True


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    migrations = (
        (migrate_run, ("results.json",)),
        (migrate_evaluation, ("eval.json",)),
        (migrate_benchmark, (*BENCHMARK_LINES, *BENCHMARK_FILES)),
    )
    for folder in args.folders:
        for migrate, patterns in migrations:
            for pattern in patterns:
                for file in sorted(folder.rglob(pattern)):
                    if migrate(file):
                        print(f"migrated {file}")


if __name__ == "__main__":
    main()
