# The two commands that matter:
#   make ask Q="your question"   set everything up (first time: ~5 min), then answer
#   make test                    install the test dependencies, then run every test
.PHONY: setup setup-test ask test lint eval

Q ?= Which paper proposes a differentiable Tversky similarity?

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
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check rag tests benchmarks
	.venv/bin/ruff format --check rag tests benchmarks
	.venv/bin/mypy rag

eval:
	.venv/bin/rag eval ../shared/eval/dev.jsonl
	.venv/bin/rag eval ../shared/eval/dev.jsonl --mode extractive
