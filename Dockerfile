# canary's container image: the static binary hack/release.sh builds, CA
# certificates and time-zone data, nothing else (no shell, no package
# manager), run as user 65532.
#
# It builds from the folder hack/release.sh prepares (dist/image), not from
# the repository, so there is no RUN and no builder stage:
#
#   bash hack/release.sh                       # binaries, dist/image/
#   podman build -f Dockerfile -t canary dist/image
#   docker buildx build --platform linux/amd64,linux/arm64 -f Dockerfile dist/image
#
# TARGETOS/TARGETARCH pick the binary (buildx and podman set them from
# --platform; the defaults are for a plain build on amd64).
FROM scratch
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY zoneinfo /usr/share/zoneinfo
COPY passwd group /etc/
COPY LICENSE /LICENSE
COPY canary-${TARGETOS}-${TARGETARCH} /canary
USER 65532:65532
ENTRYPOINT ["/canary"]
LABEL org.opencontainers.image.title="canary" \
      org.opencontainers.image.description="Progressive delivery with automatic, graded rollback" \
      org.opencontainers.image.source="https://github.com/canary-dev/canary" \
      org.opencontainers.image.url="https://github.com/canary-dev/canary" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
