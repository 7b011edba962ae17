# The Eye's container image: the static binary on a distroless base, run
# as a non-root user, its data in the /data volume.
#
#   docker build -t theeye/eye --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -p 8000:8000 -v eye-data:/data theeye/eye
#
# The build runs `make build` (CGO_ENABLED=0, version information from the
# build arguments), the same target CI checks.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=
ARG DATE=
RUN make build VERSION="$VERSION" COMMIT="$COMMIT" DATE="$DATE" && mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
LABEL org.opencontainers.image.title="The Eye" \
      org.opencontainers.image.description="A self-hosted collector of behavioural events: ingest, validation, storage and queries in one binary" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.source="https://github.com/theeye/eye" \
      org.opencontainers.image.documentation="https://github.com/theeye/eye/blob/main/docs/deploy.md"
COPY --from=build /src/bin/eye /usr/local/bin/eye
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
ENV EYE_ADDR=0.0.0.0:8000 \
    EYE_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/eye", "health"]
ENTRYPOINT ["/usr/local/bin/eye"]
CMD ["serve"]
