#!/usr/bin/python3
"""Independent client check (Debian's python3-grpcio): the server's reflection lists Encore's
services, and Recommend answers over raw bytes. Usage: reflection_check.py HOST:PORT"""
import sys

import grpc

target = sys.argv[1]
channel = grpc.insecure_channel(target)
grpc.channel_ready_future(channel).result(timeout=10)

# ServerReflectionRequest{list_services: ""} = field 7, length 0.
reflect = channel.stream_stream(
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    request_serializer=None, response_deserializer=None)
replies = list(reflect(iter([b"\x3a\x00"]), timeout=10))
assert replies, "no reflection reply"
blob = b"".join(replies)
for service in (b"encore.v1.Recommender", b"encore.v1.CatalogAdmin", b"grpc.health.v1.Health"):
    assert service in blob, (service, blob)

# RecommendRequest{user_id: "u1", count: 3} by hand; the reply must carry items.
recommend = channel.unary_unary("/encore.v1.Recommender/Recommend",
                                request_serializer=None, response_deserializer=None)
reply = recommend(b"\x0a\x02u1\x10\x03", timeout=10)
assert reply.count(b"\x0a") >= 3, reply
try:
    recommend(b"\x0a\x02u1\x10\xf5\x03", timeout=10)  # count 501
    raise AssertionError("count 501 was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
print("reflection_check: ok")
