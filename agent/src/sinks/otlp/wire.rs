//! Hand-written protobuf encoding of the OTLP messages on the log path,
//! where the agent spends its time: sizes are computed first, then bytes
//! written straight from the event model into one buffer, without building
//! the `opentelemetry-proto` structs (which would copy every body and
//! attribute). Field numbers are those of
//! <https://github.com/open-telemetry/opentelemetry-proto/blob/main/opentelemetry/proto/common/v1/common.proto>.
//! The tests decode the output with `opentelemetry-proto`'s prost types.

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::event::{AnyValue, Attributes};

/// Bytes of a length-delimited field `tag` carrying `len` bytes.
pub(super) fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Write the key and length of a length-delimited field.
pub(super) fn put_len(out: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// Write a string (or bytes) field.
pub(super) fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_len(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

/// Write a `fixed64` field.
pub(super) fn put_fixed64(out: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Write a varint field.
pub(super) fn put_varint(out: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::Varint, out);
    encode_varint(value, out);
}

/// Bytes of a varint field.
pub(super) fn varint_field(tag: u32, value: u64) -> usize {
    key_len(tag) + encoded_len_varint(value)
}

/// Size of an `AnyValue` message's content.
pub(super) fn any_value_len(value: &AnyValue) -> usize {
    match value {
        AnyValue::String(s) => len_field(1, s.len()),
        AnyValue::Bool(b) => varint_field(2, u64::from(*b)),
        AnyValue::Int(i) => varint_field(3, *i as u64),
        AnyValue::Double(_) => key_len(4) + 8,
        AnyValue::Array(values) => len_field(5, array_len(values)),
        AnyValue::Map(map) => len_field(6, kv_list_len(map.iter())),
        AnyValue::Bytes(b) => len_field(7, b.len()),
    }
}

fn array_len(values: &[AnyValue]) -> usize {
    values.iter().map(|v| len_field(1, any_value_len(v))).sum()
}

fn kv_list_len<'a>(pairs: impl Iterator<Item = (&'a str, &'a AnyValue)>) -> usize {
    pairs.map(|(k, v)| len_field(1, key_value_len(k, v))).sum()
}

/// Write an `AnyValue` message's content.
pub(super) fn put_any_value(out: &mut Vec<u8>, value: &AnyValue) {
    match value {
        AnyValue::String(s) => put_bytes(out, 1, s.as_bytes()),
        AnyValue::Bool(b) => put_varint(out, 2, u64::from(*b)),
        AnyValue::Int(i) => put_varint(out, 3, *i as u64),
        AnyValue::Double(d) => put_fixed64(out, 4, d.to_bits()),
        AnyValue::Array(values) => {
            put_len(out, 5, array_len(values));
            for v in values {
                put_len(out, 1, any_value_len(v));
                put_any_value(out, v);
            }
        }
        AnyValue::Map(map) => {
            put_len(out, 6, kv_list_len(map.iter()));
            for (k, v) in map.iter() {
                put_key_value(out, 1, k, v);
            }
        }
        AnyValue::Bytes(b) => put_bytes(out, 7, b),
    }
}

/// Size of a `KeyValue` message's content.
pub(super) fn key_value_len(key: &str, value: &AnyValue) -> usize {
    len_field(1, key.len()) + len_field(2, any_value_len(value))
}

/// Write a `KeyValue` as field `tag`.
pub(super) fn put_key_value(out: &mut Vec<u8>, tag: u32, key: &str, value: &AnyValue) {
    put_len(out, tag, key_value_len(key, value));
    put_bytes(out, 1, key.as_bytes());
    put_len(out, 2, any_value_len(value));
    put_any_value(out, value);
}

/// Size of `attributes` as repeated `KeyValue` field `tag`.
pub(super) fn attributes_len(tag: u32, attributes: &Attributes) -> usize {
    attributes
        .iter()
        .map(|(k, v)| len_field(tag, key_value_len(k, v)))
        .sum()
}

/// Write `attributes` as repeated `KeyValue` field `tag`.
pub(super) fn put_attributes(out: &mut Vec<u8>, tag: u32, attributes: &Attributes) {
    for (k, v) in attributes.iter() {
        put_key_value(out, tag, k, v);
    }
}
