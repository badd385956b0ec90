# The runflow image: `runflow worker`, `runflow web`, `runflow db upgrade` and the rest of the CLI.
#
#   docker build -t runflow:0.1.0 .        (docker-compose.yml builds it as runflow:0.1.0)
#
# The base image is pinned to an exact Python patch release and Debian release; bump both deliberately.
ARG PYTHON_IMAGE=python:3.11.16-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/runflow/venv
WORKDIR /src
COPY . .
# Every dependency ships wheels for linux/amd64 and arm64: no compiler in the image.
RUN /opt/runflow/venv/bin/pip install . \
    && /opt/runflow/venv/bin/runflow --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="runflow" \
      org.opencontainers.image.description="Lifecycle engine for RUN's competence-development activities, on Temporal" \
      org.opencontainers.image.version="0.1.0"
RUN groupadd --system --gid 10001 runflow \
    && useradd --system --uid 10001 --gid runflow --home-dir /home/runflow --create-home --shell /usr/sbin/nologin runflow \
    && install -d -o runflow -g runflow -m 0750 /var/lib/runflow
COPY --from=build /opt/runflow/venv /opt/runflow/venv
COPY deploy/healthcheck.py /opt/runflow/healthcheck.py
ENV PATH=/opt/runflow/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    RUNFLOW_DATA_DIR=/var/lib/runflow \
    RUNFLOW_LOG_FORMAT=json
USER runflow:runflow
WORKDIR /home/runflow
EXPOSE 8000
ENTRYPOINT ["runflow"]
CMD ["--help"]
