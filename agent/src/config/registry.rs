//! The registry of component types: one line per component, written next
//! to the components (`sources/mod.rs`, `sinks/mod.rs`).
//!
//! From that one list [`components!`] generates the closed enum (and its
//! JSON Schema), the `type` names, the deserialization that keeps field
//! paths (see [`tagged`](super::tagged)), validation and the builder. A
//! component registered in one of them and forgotten in another cannot
//! happen: there is only one.

/// Declare a family of components tagged by `type`:
///
/// ```text
/// components! {
///     /// A source, by `type`.
///     pub enum SourceConfig, built with SourceContext {
///         /// Log files, tailed without losing a line.
///         File("file", file::FileSourceConfig) => file::build,
///     }
/// }
/// ```
///
/// Each variant's configuration implements `Deserialize`, `Serialize`,
/// `JsonSchema` and [`Validate`](super::Validate); its builder takes the
/// configuration and the context and returns the running component.
macro_rules! components {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident, built with $context:ty {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident($tag:literal, $config:ty) => $build:path,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $tag)]
                $variant($config),
            )+
        }

        impl $name {
            /// The `type` names, in the order error messages list them.
            pub const TYPES: &[&str] = &[$($tag),+];

            /// This component's `type`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $tag,)+
                }
            }

            /// Build the component this configuration describes.
            pub fn build(
                &self,
                cx: $context,
            ) -> Result<$crate::topology::BoxedComponent, $crate::topology::BuildError> {
                match self {
                    $(Self::$variant(config) => $build(config, cx),)+
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use $crate::config::tagged;
                let (tag, rest) = tagged::split(deserializer, Self::TYPES)?;
                match tag.as_str() {
                    $($tag => tagged::inner::<$config, D::Error>(rest).map(Self::$variant),)+
                    other => Err(tagged::unknown_type(other, Self::TYPES)),
                }
            }
        }

        impl $crate::config::Validate for $name {
            fn validate(
                &self,
                path: &$crate::config::FieldPath,
                errors: &mut Vec<$crate::config::ConfigError>,
            ) {
                match self {
                    $(Self::$variant(config) => config.validate(path, errors),)+
                }
            }
        }
    };
}

pub(crate) use components;

#[cfg(test)]
mod tests {
    //! Every registered type deserializes from its smallest configuration,
    //! validates, appears in the JSON Schema and builds.

    use std::collections::BTreeSet;
    use std::sync::Arc;

    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use crate::config::{
        ComponentKind, FieldPath, SinkConfig, SourceConfig, TransformConfig, Validate,
    };
    use crate::telemetry::events::ComponentMetrics;
    use crate::topology::{
        Fanout, Globals, SinkContext, SinkInput, SourceContext, TransformContext,
    };

    /// The smallest configuration of each type (`{dir}` is a scratch
    /// directory). A type registered without an entry here fails the test.
    const SOURCES: &[(&str, &str)] = &[
        ("file", "include: ['{dir}/*.log']"),
        ("internal_metrics", "{}"),
        ("kubernetes_logs", "pods_dir: '{dir}/pods'"),
        ("host_metrics", "{}"),
        ("pod_metrics", "endpoint: https://127.0.0.1:10250"),
    ];
    const SINKS: &[(&str, &str)] = &[
        ("console", "{}"),
        ("file", "path: '{dir}/out.jsonl'"),
        ("otlp_http", "endpoint: http://127.0.0.1:9"),
        ("prometheus", "{}"),
        (
            "prometheus_remote_write",
            "endpoint: http://127.0.0.1:9/api/v1/write",
        ),
    ];

    const TRANSFORMS: &[(&str, &str)] = &[
        ("parse", "format: json"),
        ("filter", "keep: { field: body, exists: true }"),
        ("wasm", "path: '{dir}/processor.wasm'"),
        ("redact", "{}"),
        ("route", "routes: { errors: { field: severity, gt: 16 } }"),
        (
            "log_to_metric",
            "metrics: [{ type: counter, name: lines_total }]",
        ),
        ("sample", "rate: 10"),
        (
            "throttle",
            "{ threshold: 100, key_field: resource.k8s.pod.name }",
        ),
    ];

    fn parse<T: serde::de::DeserializeOwned>(tag: &str, fields: &str, dir: &std::path::Path) -> T {
        let mut value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&fields.replace("{dir}", &dir.display().to_string()))
                .unwrap_or_else(|e| panic!("{tag}: {e}"));
        value
            .as_mapping_mut()
            .unwrap_or_else(|| panic!("{tag}: not a map"))
            .insert("type".into(), tag.into());
        serde_yaml_ng::from_value(value).unwrap_or_else(|e| panic!("{tag}: {e}"))
    }

    fn assert_valid(tag: &str, config: &impl Validate) {
        let mut errors = Vec::new();
        config.validate(&FieldPath::root(), &mut errors);
        assert!(errors.is_empty(), "{tag}: {errors:?}");
    }

    /// The `type` constants of a family's JSON Schema.
    fn schema_types<T: schemars::JsonSchema>() -> BTreeSet<String> {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
        schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|variant| {
                variant["properties"]["type"]["const"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn listed(table: &[(&str, &str)]) -> BTreeSet<String> {
        table.iter().map(|(tag, _)| (*tag).to_owned()).collect()
    }

    fn registered(types: &[&str]) -> BTreeSet<String> {
        types.iter().map(|tag| (*tag).to_owned()).collect()
    }

    #[tokio::test]
    async fn every_source_type_deserializes_validates_and_builds() {
        assert_eq!(listed(SOURCES), registered(SourceConfig::TYPES));
        assert_eq!(
            schema_types::<SourceConfig>(),
            registered(SourceConfig::TYPES)
        );
        let dir = tempfile::tempdir().unwrap();
        let globals = Arc::new(Globals::standalone(dir.path()));
        for (tag, fields) in SOURCES {
            let config: SourceConfig = parse(tag, fields, dir.path());
            assert_eq!(config.type_name(), *tag);
            assert_valid(tag, &config);
            let (out, _control) = Fanout::fixed(Vec::new());
            let metrics = ComponentMetrics::new(tag, ComponentKind::Source, config.type_name());
            let cx = SourceContext {
                id: Arc::from(*tag),
                out,
                shutdown: CancellationToken::new(),
                globals: Arc::clone(&globals),
                status: globals.status.register(
                    ComponentKind::Source,
                    tag,
                    config.type_name(),
                    metrics.clone(),
                ),
                metrics,
            };
            if let Err(error) = config.build(cx) {
                panic!("{tag} does not build: {error}");
            }
        }
    }

    #[tokio::test]
    async fn every_sink_type_deserializes_validates_and_builds() {
        assert_eq!(listed(SINKS), registered(SinkConfig::TYPES));
        assert_eq!(schema_types::<SinkConfig>(), registered(SinkConfig::TYPES));
        let dir = tempfile::tempdir().unwrap();
        let globals = Arc::new(Globals::standalone(dir.path()));
        for (tag, fields) in SINKS {
            let config: SinkConfig = parse(tag, fields, dir.path());
            assert_eq!(config.type_name(), *tag);
            assert_valid(tag, &config);
            let (_tx, rx) = mpsc::channel(1);
            let metrics = ComponentMetrics::new(tag, ComponentKind::Sink, config.type_name());
            let cx = SinkContext {
                id: Arc::from(*tag),
                input: SinkInput::from_receiver(rx),
                hard_stop: CancellationToken::new(),
                globals: Arc::clone(&globals),
                status: globals.status.register(
                    ComponentKind::Sink,
                    tag,
                    config.type_name(),
                    metrics.clone(),
                ),
                metrics,
            };
            if let Err(error) = config.build(cx) {
                panic!("{tag} does not build: {error}");
            }
        }
    }

    #[tokio::test]
    async fn every_transform_type_deserializes_validates_and_builds() {
        assert_eq!(listed(TRANSFORMS), registered(TransformConfig::TYPES));
        assert_eq!(
            schema_types::<TransformConfig>(),
            registered(TransformConfig::TYPES)
        );
        let dir = tempfile::tempdir().unwrap();
        let globals = Arc::new(Globals::standalone(dir.path()));
        let plugins = Arc::new(crate::checks::PluginRuntime::new(
            Default::default(),
            dir.path(),
            false,
        ));
        for (tag, fields) in TRANSFORMS {
            let config: TransformConfig = parse(tag, fields, dir.path());
            assert_eq!(config.type_name(), *tag);
            assert_valid(tag, &config);
            let (_tx, rx) = mpsc::channel(1);
            let (out, _control) = Fanout::fixed(Vec::new());
            let (outputs, _controls): (Vec<_>, Vec<_>) = config
                .outputs()
                .into_iter()
                .map(|output| {
                    let (fanout, control) = Fanout::fixed(Vec::new());
                    ((Arc::from(output), fanout), control)
                })
                .unzip();
            let metrics = ComponentMetrics::new(tag, ComponentKind::Transform, config.type_name());
            let cx = TransformContext {
                id: Arc::from(*tag),
                input: SinkInput::from_receiver(rx),
                out,
                outputs,
                status: globals.status.register(
                    ComponentKind::Transform,
                    tag,
                    config.type_name(),
                    metrics.clone(),
                ),
                metrics,
                plugins: Arc::clone(&plugins),
            };
            if let Err(error) = config.build(cx) {
                panic!("{tag} does not build: {error}");
            }
        }
    }

    #[test]
    fn an_unknown_type_names_every_registered_one() {
        let error = serde_yaml_ng::from_str::<SinkConfig>("type: carrier_pigeon")
            .unwrap_err()
            .to_string();
        for tag in SinkConfig::TYPES {
            assert!(error.contains(&format!("`{tag}`")), "{error}");
        }
    }
}
