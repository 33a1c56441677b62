# ducklake-operator on a distroless base without a shell, as `nonroot` (65532).
# Build from the repository root: scripts/build-images.sh, or
#   docker build -f images/operator.Dockerfile -t ducklake-operator:dev .

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# The operator does not link DuckDB: building only its binary is quick.
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ducklake-operator \
 && cp target/release/ducklake-operator /ducklake-operator

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ducklake-operator" \
      org.opencontainers.image.description="Kubernetes operator running DuckLakeIngestion resources as StatefulSets of ducklake-ingester" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/ducklake-stellar/ducklake-ingester" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /ducklake-operator /usr/local/bin/ducklake-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ducklake-operator"]
CMD ["run"]
