//! The JSON Schema each plugin publishes for its `config:` (through
//! `describe`), so that `validate` finds a misspelt field in a check's
//! configuration before the check first runs, and `schema` lets editors
//! complete the first-party checks' settings.
//!
//! Reading a schema means loading the component under the same sandbox and
//! limits as the agent does (compiling it; nothing is cached, so `validate`
//! writes nothing), and calling its `describe`.

use std::path::Path;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::plan::plugin_source;
use crate::config::tagged::unknown_field;
use crate::config::{CheckConfig, Config, ConfigError, FieldPath, TransformConfig};
use crate::embedded::FIRST_PARTY;
use crate::error::Chain;
use crate::transforms::wasm::plugin_source as wasm_plugin_source;
use crate::wasm::{Grants, HostSettings, Limits, PluginHost, PluginSource};

/// A plugin host for reading schemas, with a scratch state directory.
pub struct SchemaReader {
    host: PluginHost,
    _state: tempfile::TempDir,
}

impl SchemaReader {
    /// A host with the default limits and no compile cache.
    pub fn new() -> Result<Self, String> {
        let state = tempfile::tempdir()
            .map_err(|e| format!("cannot create a scratch state directory: {e}"))?;
        let host = PluginHost::new(HostSettings::new(state.path()))
            .map_err(|e| format!("cannot start the plugin host: {}", Chain(&e)))?;
        Ok(SchemaReader {
            host,
            _state: state,
        })
    }

    /// The configuration schema `source` publishes.
    pub async fn schema(&self, name: &str, source: PluginSource) -> Result<Value, String> {
        let plugin = self
            .host
            .load(name, source, Limits::default(), Grants::default())
            .await
            .map_err(|e| Chain(&e).to_string())?;
        parse_schema(&plugin.info().config_schema)
    }

    /// The configuration schema the processor `source` publishes.
    pub async fn processor_schema(
        &self,
        name: &str,
        source: PluginSource,
    ) -> Result<Value, String> {
        let plugin = self
            .host
            .load_processor(name, source, Limits::default(), Grants::default())
            .await
            .map_err(|e| Chain(&e).to_string())?;
        parse_schema(&plugin.info().config_schema)
    }
}

/// A published schema as JSON.
fn parse_schema(schema: &str) -> Result<Value, String> {
    let schema = schema.trim();
    if schema.is_empty() {
        // No schema published: any settings are the plugin's to judge.
        return Ok(Value::Bool(true));
    }
    serde_json::from_str(schema).map_err(|e| format!("the plugin's config schema is not JSON: {e}"))
}

/// Check every check's and every `wasm` transform's `config:` against its
/// plugin's schema; the errors name the field below
/// `checks.<name>.config` or `transforms.<name>.config`. A plugin that
/// cannot be loaded is an error at the component's `type`, `plugin` or
/// `path`.
pub async fn check_plugin_configs(config: &Config) -> Vec<ConfigError> {
    let processors: Vec<_> = config
        .transforms
        .iter()
        .filter_map(|(name, transform)| match &transform.transform {
            TransformConfig::Wasm(wasm) => Some((name, wasm)),
            _ => None,
        })
        .collect();
    if config.checks.is_empty() && processors.is_empty() {
        return Vec::new();
    }
    let reader = match SchemaReader::new() {
        Ok(reader) => reader,
        Err(message) => return vec![FieldPath::root().field("checks").error(message)],
    };
    let directory = config.plugins.directory.as_deref();
    let mut errors = Vec::new();
    for (name, check) in &config.checks {
        let path = FieldPath::root().field("checks").field(name);
        check_one(&reader, name, check, directory, &path, &mut errors).await;
    }
    for (name, transform) in processors {
        let path = FieldPath::root().field("transforms").field(name);
        let source_field = match transform.path {
            Some(_) => "path",
            None => "plugin",
        };
        let schema = match wasm_plugin_source(transform, directory) {
            Ok(source) => reader.processor_schema(name, source).await,
            Err(error) => Err(Chain(&error).to_string()),
        };
        check_against(schema, &transform.config, &path, source_field, &mut errors);
    }
    errors
}

async fn check_one(
    reader: &SchemaReader,
    name: &str,
    check: &CheckConfig,
    directory: Option<&Path>,
    path: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    let source_field = match (&check.path, &check.plugin) {
        _ if check.kind != "wasm" => "type",
        (Some(_), _) => "path",
        _ => "plugin",
    };
    let source = match plugin_source(check, directory) {
        Ok((source, _)) => source,
        Err(error) => {
            errors.push(path.field(source_field).error(Chain(&error).to_string()));
            return;
        }
    };
    let schema = reader.schema(name, source).await;
    check_against(schema, &check.config, path, source_field, errors);
}

/// Check `config` (at `path.config`) against `schema`; a schema that could
/// not be read is an error at `path.<source_field>`.
fn check_against(
    schema: Result<Value, String>,
    config: &Value,
    path: &FieldPath,
    source_field: &str,
    errors: &mut Vec<ConfigError>,
) {
    let schema = match schema {
        Ok(schema) => schema,
        Err(message) => {
            errors.push(path.field(source_field).error(message));
            return;
        }
    };
    let validator = match jsonschema::validator_for(&schema) {
        Ok(validator) => validator,
        Err(error) => {
            errors.push(path.field(source_field).error(format!(
                "the plugin publishes a config schema that is not valid JSON Schema: {error}"
            )));
            return;
        }
    };
    let config_path = path.field("config");
    for error in validator.iter_errors(config) {
        report(&error, &schema, config, &config_path, errors);
    }
}

/// Turn a schema violation into configuration errors at its field path.
/// An unknown field is named with the fields allowed there. A value that
/// fits none of a choice's branches ("a string, or an object with
/// `address`") is reported against the branch of its own JSON type.
fn report(
    error: &ValidationError<'_>,
    schema: &Value,
    config: &Value,
    base: &FieldPath,
    errors: &mut Vec<ConfigError>,
) {
    let at = below(base, error.instance_path().iter());
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_fields(schema, error.instance_path().iter(), config);
            for field in unexpected {
                errors.push(at.field(field).error(unknown_field(field, &known)));
            }
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // The branch whose own type the value has: its errors are not
            // a type mismatch at the value itself.
            let here = error.instance_path().as_str();
            let fitting = context.iter().find(|branch| {
                !branch.is_empty()
                    && !branch.iter().any(|e| {
                        matches!(e.kind(), ValidationErrorKind::Type { .. })
                            && e.instance_path().as_str() == here
                    })
            });
            match fitting {
                Some(branch) => {
                    for inner in branch {
                        report(inner, schema, config, base, errors);
                    }
                }
                None => errors.push(at.error(error.to_string())),
            }
        }
        _ => errors.push(at.error(error.to_string())),
    }
}

/// `base` followed by a JSON instance location.
fn below<'a>(base: &FieldPath, location: impl Iterator<Item = LocationSegment<'a>>) -> FieldPath {
    location.fold(base.clone(), |path, segment| match segment {
        LocationSegment::Property(name) => path.field(&name),
        LocationSegment::Index(index) => path.index(index),
    })
}

/// The fields the schema allows for the object at `location` of
/// `instance`, found by walking the schema along the instance (properties,
/// array items, local `$ref`s).
fn known_fields<'a>(
    root: &Value,
    location: impl Iterator<Item = LocationSegment<'a>>,
    instance: &Value,
) -> Vec<String> {
    let mut node = resolve(root, root);
    let mut value = instance;
    for segment in location {
        let (next, next_value) = match segment {
            LocationSegment::Property(name) => (
                node.get("properties").and_then(|p| p.get(name.as_ref())),
                value.get(name.as_ref()),
            ),
            LocationSegment::Index(index) => (node.get("items"), value.get(index)),
        };
        match (next, next_value) {
            (Some(next), Some(next_value)) => {
                node = object_branch(root, resolve(root, next), next_value);
                value = next_value;
            }
            _ => return Vec::new(),
        }
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Follow a local `$ref` (`#/$defs/Name`), once per step.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..8 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(target) = reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        node = target;
    }
    node
}

/// Of a schema that is a choice (`anyOf`/`oneOf`, e.g. "a string or an
/// object"), the branch describing an object, when the value is one.
fn object_branch<'a>(root: &'a Value, node: &'a Value, value: &Value) -> &'a Value {
    if !value.is_object() {
        return node;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branch) = node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|branch| resolve(root, branch))
            .find(|branch| branch.get("properties").is_some())
        {
            return branch;
        }
    }
    node
}

/// The first-party checks' configuration schemas, by check `type`.
pub async fn first_party_schemas() -> Result<Vec<(&'static str, Value)>, String> {
    let reader = SchemaReader::new()?;
    let mut schemas = Vec::new();
    for plugin in FIRST_PARTY {
        let source = PluginSource::Embedded {
            name: plugin.name,
            bytes: plugin.bytes,
        };
        let schema = reader
            .schema(plugin.check_type, source)
            .await
            .map_err(|message| format!("{}: {message}", plugin.check_type))?;
        schemas.push((plugin.check_type, schema));
    }
    Ok(schemas)
}

/// Put the first-party checks' config schemas into the configuration's
/// schema: a check of `type: cert_expiry` gets cert_expiry's `config`.
/// Each plugin's definitions move to the root's `$defs` under a prefix of
/// their own, with their references rewritten.
pub fn merge_into(root: &mut Value, plugins: Vec<(&'static str, Value)>) {
    let mut branches = Vec::new();
    for (check_type, mut schema) in plugins {
        let prefix = camel(check_type);
        rewrite_refs(&mut schema, &prefix);
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
            for (name, def) in defs {
                root["$defs"][format!("{prefix}{name}")] = def;
            }
        }
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
        }
        let name = format!("{prefix}Config");
        root["$defs"][&name] = schema;
        branches.push(serde_json::json!({
            "if": { "properties": { "type": { "const": check_type } }, "required": ["type"] },
            "then": { "properties": { "config": { "$ref": format!("#/$defs/{name}") } } },
        }));
    }
    if let Some(check) = root["$defs"].get_mut("CheckConfig") {
        check["allOf"] = Value::Array(branches);
    }
}

fn rewrite_refs(node: &mut Value, prefix: &str) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "$ref"
                    && let Some(name) = value.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                {
                    *value = Value::String(format!("#/$defs/{prefix}{name}"));
                } else {
                    rewrite_refs(value, prefix);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, prefix)),
        _ => {}
    }
}

/// `cert_expiry` → `CertExpiry`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_found_through_refs_items_and_choices() {
        let schema = serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "properties": { "endpoints": { "type": "array", "items": { "$ref": "#/$defs/Endpoint" } } },
            "$defs": {
                "Endpoint": { "anyOf": [ { "type": "string" }, { "$ref": "#/$defs/Object" } ] },
                "Object": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": { "address": {}, "server_name": {} }
                }
            }
        });
        let config = serde_json::json!({ "endpoints": ["a:1", { "adress": "b:2" }] });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let base = FieldPath::root().field("config");
        let mut errors = Vec::new();
        for error in validator.iter_errors(&config) {
            report(&error, &schema, &config, &base, &mut errors);
        }
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                ": config.endpoints[1].adress: unknown field `adress` (did you mean `address`?), expected one of `address`, `server_name`"
            ]
        );
    }

    #[test]
    fn a_value_that_fits_no_branch_is_reported_against_its_own_type() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": { "endpoints": { "type": "array", "items": {
                "anyOf": [
                    { "type": "string" },
                    { "type": "object", "additionalProperties": false,
                      "properties": { "address": { "type": "string" } } }
                ]
            } } }
        });
        let config = serde_json::json!({ "endpoints": [{ "adress": "b:2" }] });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut errors = Vec::new();
        let base = FieldPath::root().field("config");
        for error in validator.iter_errors(&config) {
            report(&error, &schema, &config, &base, &mut errors);
        }
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                ": config.endpoints[0].adress: unknown field `adress` (did you mean `address`?), expected one of `address`"
            ]
        );
    }

    #[test]
    fn merged_definitions_keep_their_references() {
        let mut root = serde_json::json!({ "$defs": { "CheckConfig": { "type": "object" } } });
        let plugin = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": { "endpoints": { "items": { "$ref": "#/$defs/Endpoint" } } },
            "$defs": { "Endpoint": { "type": "string" } }
        });
        merge_into(&mut root, vec![("cert_expiry", plugin)]);
        assert_eq!(
            root["$defs"]["CertExpiryConfig"]["properties"]["endpoints"]["items"]["$ref"],
            "#/$defs/CertExpiryEndpoint"
        );
        assert_eq!(root["$defs"]["CertExpiryEndpoint"]["type"], "string");
        assert_eq!(
            root["$defs"]["CheckConfig"]["allOf"][0]["then"]["properties"]["config"]["$ref"],
            "#/$defs/CertExpiryConfig"
        );
    }
}
