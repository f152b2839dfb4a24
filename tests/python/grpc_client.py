#!/usr/bin/env python3
"""A gRPC client with no compiled-in kgent proto: it learns the API through server reflection.

Used by tests/tests/grpc_health_reflection.rs against a real kgentd on a Unix socket.

  grpc_client.py SOCKET health [SERVICE]      print the health status (SERVING, NOT_SERVING, ...)
  grpc_client.py SOCKET list [v1|v1alpha]     print the services reflection lists, one a line
  grpc_client.py SOCKET call SERVICE/METHOD [JSON]
                                              call a unary method, print the reply as JSON

A failed call prints the gRPC status code name on stderr's first line and exits with 3.
"""
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def health(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def list_services(channel, version):
    # v1 and v1alpha messages are the same on the wire; only the method path differs.
    method = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    replies = method(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    for reply in replies:
        if reply.HasField("error_response"):
            raise SystemExit(f"reflection error: {reply.error_response.error_message}")
        for service in reply.list_services_response.service:
            print(service.name)


def call(channel, path, body):
    service_name, _, method_name = path.partition("/")
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(method.input_type)
    reply_class = message_factory.GetMessageClass(method.output_type)
    stub = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=reply_class.FromString,
    )
    reply = stub(json_format.Parse(body, request_class()), timeout=60)
    print(json_format.MessageToJson(reply))


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    socket, command, rest = argv[1], argv[2], argv[3:]
    # grpcio (since 1.57) sends the socket path as :authority unless told otherwise; HTTP/2
    # requires a host there, and kgentd's HTTP/2 layer refuses a path (PROTOCOL_ERROR). grpc-go,
    # grpcurl and Kubernetes send "localhost" over Unix sockets: so does this client.
    options = [("grpc.default_authority", "localhost")]
    with grpc.insecure_channel(f"unix:{socket}", options=options) as channel:
        try:
            if command == "health":
                health(channel, rest[0] if rest else "")
            elif command == "list":
                list_services(channel, rest[0] if rest else "v1alpha")
            elif command == "call":
                call(channel, rest[0], rest[1] if len(rest) > 1 else "{}")
            else:
                raise SystemExit(__doc__)
        except grpc.RpcError as e:
            print(e.code().name, file=sys.stderr)
            print(e.details(), file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
