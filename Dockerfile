# syntax=docker/dockerfile:1
# The CTI server (`cti`): built into a virtual environment in a first stage, run from a slim
# image as a user that is not root. docker-compose.yml runs two of these as the center's nodes.
#
#   docker build -t cti-server .
#   docker run --rm cti-server --help

# Python 3.11: Debian 12's.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the project and its dependencies, as wheels installed into /opt/cti ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/cti
WORKDIR /src
# Dependencies first, from pyproject.toml alone: a change of code alone reuses this layer.
COPY pyproject.toml README.md ./
RUN mkdir -p cti adapters router context desktop_api bench \
    && /opt/cti/bin/pip install . \
    && /opt/cti/bin/pip uninstall -y cti-server
COPY cti cti
COPY adapters adapters
COPY router router
COPY context context
COPY desktop_api desktop_api
COPY bench bench
RUN /opt/cti/bin/pip install --no-deps . \
    && /opt/cti/bin/cti --help >/dev/null

# --- run ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/cti cti
COPY --from=build /opt/cti /opt/cti
COPY deploy/cti/entrypoint.py /usr/local/bin/cti-entrypoint
COPY deploy/cti/center.yaml /etc/cti/center.yaml
ENV PATH=/opt/cti/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER cti
WORKDIR /var/lib/cti
# The data directory (--data-dir): a single node's generated token secret.
VOLUME ["/var/lib/cti"]
EXPOSE 8080
# Liveness: /healthz answers while the node's loop runs (docker-compose.yml serves on 8080).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["python", "/usr/local/bin/cti-entrypoint"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
