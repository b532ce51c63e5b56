# TaskDB: build the module, then a Redis image that loads it.
#   docker build -t taskdb . && docker run -p 6379:6379 taskdb
FROM rust:1-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libclang-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --lib

FROM redis:7.2-bookworm
COPY --from=build /src/target/release/libtaskdb.so /usr/local/lib/redis/modules/libtaskdb.so
COPY redis.conf /usr/local/etc/redis/taskdb.conf
RUN sed -i -e 's#^loadmodule .*#loadmodule /usr/local/lib/redis/modules/libtaskdb.so#' \
           -e 's#^dir .*#dir /data#' \
           -e 's#^bind .*#bind 0.0.0.0#' /usr/local/etc/redis/taskdb.conf
EXPOSE 6379
CMD ["redis-server", "/usr/local/etc/redis/taskdb.conf"]
