# syntax=docker/dockerfile:1
# rolebridge: one image for the web process (default), the scheduler and the outbox worker.
#   docker run IMAGE                              -> gunicorn serving scim_server:create_app()
#   docker run IMAGE rolebridge scheduler         -> scheduled pulls
#   docker run IMAGE rolebridge outbox work       -> invite emails
#   docker run IMAGE rolebridge db upgrade        -> migrations (run once per release)

# build: wheels and the virtual environment; nothing of this stage but the venv ships
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mappings mappings
COPY sync sync
COPY scim_server scim_server
COPY rolebridge rolebridge
RUN python -m venv /opt/rolebridge \
    && /opt/rolebridge/bin/pip install . \
    && /opt/rolebridge/bin/python -m pip uninstall -y pip

# run: the slim base, the venv, an unprivileged user; no compilers, no pip
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/rolebridge --create-home rolebridge \
    && mkdir -p /tmp/rolebridge-metrics && chown rolebridge /tmp/rolebridge-metrics
COPY --from=build /opt/rolebridge /opt/rolebridge
ENV PATH=/opt/rolebridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROLEBRIDGE_INSTANCE=/var/lib/rolebridge \
    ROLEBRIDGE_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/rolebridge-metrics
USER rolebridge
WORKDIR /var/lib/rolebridge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "-c", "python:scim_server.gunicorn_conf", "scim_server:create_app()"]
