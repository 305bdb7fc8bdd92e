# Two commands matter: `make ask Q="..."` (set up, then answer) and `make test`.
.PHONY: setup setup-test ask test lint eval

Q ?= Which paper proposes a differentiable Tversky similarity?

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh test

ask: setup
	.venv/bin/rag ask "$(Q)"

test: setup-test
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check rag tests
	.venv/bin/mypy rag

eval:
	.venv/bin/rag eval ../shared/eval/dev.jsonl
