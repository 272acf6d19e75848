# syntax=docker/dockerfile:1
# One multi-stage build for the whole suite: the workspace is compiled once, each binary is
# copied into its own slim runtime image (`docker build --target <service>`), and the web UI
# is built in a Node stage and copied into the backend image.

FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && cp target/release/backend target/release/pinger target/release/archiver \
       target/release/llm-service target/release/notifier target/release/broker-init /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home pingtower
USER pingtower
ENV PINGTOWER_LOG_FORMAT=json PINGTOWER_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1

FROM runtime AS broker-init
COPY --from=build /out/broker-init /usr/local/bin/
ENTRYPOINT ["broker-init"]

FROM runtime AS backend
COPY --from=build /out/backend /usr/local/bin/
COPY --from=web /src/web/dist /srv/web
ENV PINGTOWER_WEB_DIR=/srv/web
ENTRYPOINT ["backend"]

FROM runtime AS pinger
COPY --from=build /out/pinger /usr/local/bin/
ENTRYPOINT ["pinger"]

FROM runtime AS archiver
COPY --from=build /out/archiver /usr/local/bin/
ENTRYPOINT ["archiver"]

FROM runtime AS llm-service
COPY --from=build /out/llm-service /usr/local/bin/
ENTRYPOINT ["llm-service"]

FROM runtime AS notifier
COPY --from=build /out/notifier /usr/local/bin/
ENTRYPOINT ["notifier"]
