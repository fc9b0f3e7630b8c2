//! Conversions between the event model's values and the
//! `opentelemetry-proto` message types, both ways (the disk queue stores
//! OTLP messages and reads them back into events).

use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoAny, ArrayValue, KeyValue, KeyValueList,
};

use crate::event::{AnyValue, Attributes, Text};

/// An attribute value as a proto `AnyValue`.
pub fn to_proto(value: &AnyValue) -> ProtoAny {
    let value = match value {
        AnyValue::String(s) => ProtoValue::StringValue(s.to_string()),
        AnyValue::Bool(b) => ProtoValue::BoolValue(*b),
        AnyValue::Int(i) => ProtoValue::IntValue(*i),
        AnyValue::Double(d) => ProtoValue::DoubleValue(*d),
        AnyValue::Bytes(b) => ProtoValue::BytesValue(b.clone()),
        AnyValue::Array(values) => ProtoValue::ArrayValue(ArrayValue {
            values: values.iter().map(to_proto).collect(),
        }),
        AnyValue::Map(map) => ProtoValue::KvlistValue(KeyValueList {
            values: key_values(map),
        }),
    };
    ProtoAny { value: Some(value) }
}

/// Attributes as proto `KeyValue`s.
pub fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.to_owned(),
            value: Some(to_proto(v)),
            ..Default::default()
        })
        .collect()
}

/// A proto `AnyValue` as an attribute value (an empty one as `""`).
pub fn from_proto(value: ProtoAny) -> AnyValue {
    match value.value {
        Some(ProtoValue::StringValue(s)) => AnyValue::String(s.into()),
        Some(ProtoValue::BoolValue(b)) => AnyValue::Bool(b),
        Some(ProtoValue::IntValue(i)) => AnyValue::Int(i),
        Some(ProtoValue::DoubleValue(d)) => AnyValue::Double(d),
        Some(ProtoValue::BytesValue(b)) => AnyValue::Bytes(b),
        Some(ProtoValue::ArrayValue(a)) => {
            AnyValue::Array(a.values.into_iter().map(from_proto).collect())
        }
        Some(ProtoValue::KvlistValue(list)) => AnyValue::Map(attributes(list.values)),
        // Dictionary-encoded strings (profiles only) and empty values.
        Some(ProtoValue::StringValueStrindex(_)) | None => AnyValue::String(Text::new()),
    }
}

/// Proto `KeyValue`s as attributes.
pub fn attributes(values: Vec<KeyValue>) -> Attributes {
    values
        .into_iter()
        .map(|kv| (kv.key, kv.value.map_or(AnyValue::from(""), from_proto)))
        .collect()
}
