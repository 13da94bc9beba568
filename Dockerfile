# syntax=docker/dockerfile:1
# ATSPro Jobs: one image for every process. `docker run -p 8000:8000 -v atspro-data:/data IMAGE`
# serves HTTP and workers on SQLite in /data; the same image runs `atspro serve --mode web`,
# `atspro worker` and `atspro migrate` when scaled out (see docker-compose.yml and the README).

# --- 1. The web app (web/, a Next.js static export) ------------------------------------------
# Built here, served by the Python app from web/out; no Node at run time. .dockerignore keeps
# web/node_modules, web/.next and web/out out of the context, so the build starts clean.
FROM node:22-slim AS web
WORKDIR /build
ENV NEXT_TELEMETRY_DISABLED=1
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- 2. The Python app --------------------------------------------------------------------------
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home atspro \
    && mkdir /data && chown atspro:atspro /data
WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The app, installed in place (editable): `atspro migrate` finds alembic.ini and migrations/
# beside the package. Code stays owned by root, read-only for the app's user.
COPY app ./app
RUN pip install --no-deps -e .
COPY alembic.ini ./
COPY migrations ./migrations
COPY --from=web /build/out ./web/out

# Settings for a container: listen on every interface, keep data in the volume.
ENV ATSPRO_HOST=0.0.0.0 \
    ATSPRO_DATA_DIR=/data \
    PORT=8000 \
    ATSPRO_WORKER_PORT=8001
VOLUME ["/data"]
# 8000: HTTP (`atspro serve`); 8001: the health endpoint of `atspro worker`.
EXPOSE 8000 8001
USER atspro

# For `atspro serve` (the default command) on $PORT; compose checks workers on their own port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4)"]

# uvicorn in `atspro` is PID 1 and handles SIGTERM: running jobs get ATSPRO_SHUTDOWN_GRACE_S.
CMD ["atspro", "serve"]
