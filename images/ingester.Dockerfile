# ducklake-ingester: the binary (DuckDB 1.5.5 bundled, Parquet and JSON
# compiled in) and the signed DuckDB 1.5.5 extensions it loads for DuckLake
# (ducklake, httpfs, postgres_scanner), on a distroless base without a shell,
# running as the unprivileged `nonroot` user (65532).
# Build from the repository root: scripts/build-images.sh, or
#   docker build -f images/ingester.Dockerfile -t ducklake-ingester:dev .

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# 1. The binary. The bundled DuckDB (C++) makes this the long step (13-26 min
#    on 2 cores); the cache mounts keep it warm across builds.
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ducklake-ingester \
 && cp target/release/ducklake-ingester /ducklake-ingester

# 2. The extensions, from their PyPI wheels, pinned to the engine's version
#    by the same script developers use.
FROM python:3.12-slim-${DEBIAN} AS extensions
WORKDIR /src
COPY scripts/fetch-extensions.sh scripts/fetch-extensions.sh
RUN scripts/fetch-extensions.sh /opt/duckdb/extensions \
 && test -f /opt/duckdb/extensions/v1.5.5/linux_amd64/ducklake.duckdb_extension

# 3. Runtime: glibc and libstdc++ (DuckDB is C++), CA certificates, nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ducklake-ingester" \
      org.opencontainers.image.description="Stellar ledgers into DuckLake / DuckDB, exactly once, queryable over HTTP while ingesting" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/ducklake-stellar/ducklake-ingester" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /ducklake-ingester /usr/local/bin/ducklake-ingester
COPY --from=extensions /opt/duckdb/extensions /opt/duckdb/extensions
# The operator mounts the volume at /data and the configuration at /etc/ducklake.
ENV HOME=/tmp
# DuckDB's relative temporary directory lands in the working directory: the
# writable emptyDir, not the read-only root.
WORKDIR /tmp
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ducklake-ingester"]
CMD ["--help"]
