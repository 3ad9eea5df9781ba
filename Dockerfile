# Build and runtime image for encore-server (Debian 12, all libraries from Debian's archive).
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build --target encore-server encore-cli encore-gen

FROM debian:12-slim
# Runtime libraries (FAISS and RocksDB link statically from Debian's -dev packages).
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libabsl20220623 libgrpc++1.51 libprotobuf32 libopenblas0-pthread libgomp1 \
      libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 libcivetweb1 libxxhash0 \
      libsnappy1v5 liblz4-1 libzstd1 libre2-9 libc-ares2 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/server/encore-server /src/build/client/encore-cli \
     /src/build/offline/encore-gen /usr/local/bin/
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/encore-server"]
CMD ["--snapshot_dir=/snapshots", "--history_dir=/var/lib/encore/history"]
