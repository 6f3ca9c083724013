# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages are compiled to bytecode once, as the image does (deploy/Dockerfile): with the environment's
# PYTHONDONTWRITEBYTECODE set, every `handoff` process (dozens in `make test`) compiled SQLAlchemy, Litestar and the
# rest from source at each start, about 1.3 s of its 2.3 s.
export UV_COMPILE_BYTECODE := 1

.PHONY: run test lint env bench soak clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

env: $(VENV)/.synced

# Running needs the service's own dependencies only. --inexact leaves dev tools a `make test` installed in place.
$(VENV)/.synced-run: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --no-dev --inexact --python $(PYTHON)
	touch $@

# `make run PORT=8001 HOST=0.0.0.0`: handoff reads PORT and HOST (its --port and --host win over them).
run: $(VENV)/.synced-run
	$(VENV)/bin/handoff dev

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The browser tests drive Debian's Chromium; no browser is ever downloaded by a test tool.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "The browser tests need Chromium: install the chromium package." >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The deploy/ tests validate the compose file with Debian's docker-compose and run our nginx.conf with nginx.
DOCKER_COMPOSE := /usr/bin/docker-compose
NGINX := /usr/sbin/nginx

$(DOCKER_COMPOSE) $(NGINX):
	@command -v apt-get >/dev/null || { echo "The deploy tests need docker-compose and nginx: install those packages." >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose nginx >/dev/null

# The accessibility checks inject axe-core (from the npm registry, pinned) into the dashboard's pages.
AXE := $(TOOLS)/node_modules/axe-core/axe.min.js
AXE_VERSION := 4.14.1

$(AXE): | $(UV)
	@command -v npm >/dev/null || { echo "The accessibility tests need npm (Node.js) to install axe-core." >&2; exit 1; }
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --silent axe-core@$(AXE_VERSION)

# Four workers (pytest-xdist): most of the suite waits on timers, workers and outages rather than computing.
# Each worker takes three Redis databases from HANDOFF_TEST_REDIS_DB (3 unless set), and Redis has 16.
TEST_WORKERS ?= 4

test: lint $(CHROMIUM) $(DOCKER_COMPOSE) $(NGINX) $(AXE)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

# The performance figures at full scale (several minutes): each row printed beside its floor.
bench: env
	HANDOFF_BENCH=full $(VENV)/bin/pytest tests/bench -s -p no:cacheprovider

# The chaos soak: 2 API replicas, 2 assessors and 2 notifiers as processes, killed, stopped and cut off from
# Redis, PostgreSQL and SMTP at random for SOAK_S seconds, then the invariants' table. SOAK_SEED replays a run's
# faults (the seed is printed at the start and with any failure). `make test` runs a 45-second one.
# SOAK_SENTINEL=1: Redis is a master, two replicas and three sentinels, and the master is killed twice.
SOAK_S ?= 300

soak: env
	$(VENV)/bin/python -m tests.soak --seconds $(SOAK_S) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) \
		$(if $(SOAK_SENTINEL),--sentinel)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
