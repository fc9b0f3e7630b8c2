#!/usr/bin/env python3
"""Decode captured OTLP/HTTP request bodies with the OpenTelemetry project's
own Python definitions (PyPI `opentelemetry-proto`), independently of the
agent's Rust encoder, and print them as JSON.

    otlp_decode.py logs|metrics BODY_FILE [BODY_FILE...]

Each file holds one request body as sent; its Content-Encoding is given by
the file name's suffix: `.gz` (gzip), `.zst` (zstd) or none. The output is a
JSON list with one object per file: the request as protobuf's canonical JSON
mapping (field names as in the .proto files).
"""

import gzip
import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)


def body(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 30)
    return data


def main():
    kind, paths = sys.argv[1], sys.argv[2:]
    message = {"logs": ExportLogsServiceRequest, "metrics": ExportMetricsServiceRequest}[kind]
    out = []
    for path in paths:
        request = message()
        request.ParseFromString(body(path))
        out.append(MessageToDict(request, preserving_proto_field_name=True))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
