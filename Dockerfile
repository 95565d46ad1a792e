# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mappings mappings
COPY sync sync
COPY scim_server scim_server
RUN python -m venv /opt/rolebridge && /opt/rolebridge/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --home /var/lib/rolebridge --create-home rolebridge
COPY --from=build /opt/rolebridge /opt/rolebridge
ENV PATH=/opt/rolebridge/bin:$PATH PYTHONUNBUFFERED=1
USER rolebridge
WORKDIR /var/lib/rolebridge
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "scim_server:create_app()"]
