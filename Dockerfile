# syntax=docker/dockerfile:1
#
# One image for the three services (report, reviewer, reward). The SERVICE
# environment variable picks the binary at start:
#
#   docker build -t socialgov:dev .
#   docker run -e SERVICE=reviewer -e SG_PG_DSN=... socialgov:dev
#
# docker-compose.yml and helm/socialgov set SERVICE, SG_HTTP_PORT and
# SG_MIGRATIONS_DIR per service.

# ---------------------------------------------------------------- build stage
FROM debian:bookworm-slim AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libmicrohttpd-dev libpq-dev libjansson-dev librdkafka-dev libhiredis-dev \
        libjwt-dev libssl-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the service binaries are built from; tests, benches and local state
# stay out of the context (.dockerignore) and out of the layer cache key.
COPY Makefile ./
COPY common/ common/
COPY services/ services/

RUN make -j"$(nproc)" build/sg-report build/sg-reviewer build/sg-reward \
 && strip --strip-debug build/sg-report build/sg-reviewer build/sg-reward

# -------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim AS runtime

# Runtime libraries only (the sonames the binaries link against), plus curl for
# the HEALTHCHECK and CA certificates for https upstream callbacks.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd12 libpq5 libjansson4 librdkafka1 libhiredis0.14 libjwt0 \
        libssl3 libcurl4 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 sg \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin sg

COPY --from=build /src/build/sg-report /src/build/sg-reviewer /src/build/sg-reward /usr/local/bin/
COPY --chown=root:root sql/ /app/sql/

ARG SERVICE=report
# SERVICE: report | reviewer | reward (default for `docker run` without -e).
# SG_MIGRATIONS_DIR defaults to /app/sql/$SERVICE at start (ENTRYPOINT), so it
# follows a SERVICE given at run time; compose and helm also set it explicitly.
# The services bind 127.0.0.1 unless told otherwise: in a container that would
# make them unreachable.
ENV SERVICE=${SERVICE} \
    SG_HTTP_BIND=0.0.0.0

WORKDIR /app
USER 10001:10001

EXPOSE 8081 8082 8083

# Default port per service unless SG_HTTP_PORT is set (API.md: 8081/8082/8083).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD case "$SERVICE" in report) p=8081;; reviewer) p=8082;; reward) p=8083;; *) exit 1;; esac; \
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${SG_HTTP_PORT:-$p}/healthz" || exit 1

# exec: the service is PID 1 and receives SIGTERM itself (graceful shutdown).
ENTRYPOINT ["/bin/sh", "-c", "case \"$SERVICE\" in report|reviewer|reward) ;; *) echo \"SERVICE must be report, reviewer or reward (got '$SERVICE')\" >&2; exit 64;; esac; export SG_MIGRATIONS_DIR=\"${SG_MIGRATIONS_DIR:-/app/sql/$SERVICE}\"; exec /usr/local/bin/sg-\"$SERVICE\" \"$@\"", "sg"]
