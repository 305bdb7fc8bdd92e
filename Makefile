# The two commands that matter:
#   make ask Q="your question"   set everything up (first time: ~5 min), then answer
#   make test                    install the test dependencies, then run every test
.PHONY: setup setup-test ask test lint eval fit docs

Q ?= Which paper proposes a differentiable Tversky similarity?
PY = .venv/bin/python
CODE = rag tests benchmarks scripts eval docs README.md

setup:
	bash scripts/setup.sh

# Chromium (Debian's) is needed by the browser test; where it cannot be installed the test
# skips, except under CI (CI=true), where it is required.
setup-test:
	bash scripts/setup.sh test
	bash scripts/ci-system-deps.sh || [ -z "$$CI" ]

ask: setup
	.venv/bin/rag ask "$(Q)"

test: setup-test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint:
	.venv/bin/ruff check $(CODE)
	.venv/bin/ruff format --check $(CODE)
	.venv/bin/mypy rag benchmarks scripts eval

# quality figures on the development sets, both modes (docs/evaluation.md lists the others)
eval: setup
	HF_HUB_OFFLINE=1 .venv/bin/rag eval eval/sets/dev2.jsonl
	HF_HUB_OFFLINE=1 .venv/bin/rag eval eval/sets/dev2.jsonl --mode extractive

# refit the decisions shipped as data in rag/params/, printing their cross-validated figures
fit: setup
	HF_HUB_OFFLINE=1 $(PY) -m rag.params.fit_sentences
	HF_HUB_OFFLINE=1 $(PY) -m rag.params.fit_answerability --false-refusal 0.05
	HF_HUB_OFFLINE=1 $(PY) -m rag.params.fit_membership

docs:
	$(PY) scripts/settings_doc.py
