//! `plugin inspect FILE.wasm`: what a component is, read from its type
//! (`Component::component_type`) without running it: the contract and world
//! it targets, its imports and exports, and whether this host can link it.

use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::types::ComponentItem;

use super::error::LoadErrorKind;
use super::loader;
use super::shared::Shared;
use super::source::PluginSource;

/// Package of the plugin contract.
const PACKAGE: &str = "neurallog:plugin";
/// The contract versions this host loads, by their semver-compatible
/// prefix: the linker serves an import of any `0.1.x` with the `0.1.1` it
/// defines (and a world this host does not know is not recognized by its
/// exports anyway).
const SUPPORTED_SERIES: &[&str] = &["0.1."];

/// A component could not be inspected.
#[derive(Debug, thiserror::Error)]
#[error("cannot inspect {source_name}")]
pub struct InspectError {
    /// The path or embedded name.
    pub source_name: String,
    /// What went wrong.
    #[source]
    pub kind: LoadErrorKind,
}

/// One import or export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Its name, for example `neurallog:plugin/tls@0.1.0` or `run`.
    pub name: String,
    /// `function`, `instance`, `type`, `resource`, `module`, `component` or
    /// `core-function`.
    pub kind: &'static str,
}

/// What `plugin inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// SHA-256 of the component.
    pub sha256: String,
    /// The world it targets, for example `neurallog:plugin/check@0.1.0`,
    /// `neurallog:plugin/processor@0.1.0` or
    /// `neurallog:plugin/column-processor@0.1.1`, when its imports and exports
    /// match one.
    pub world: Option<String>,
    /// Versions of `neurallog:plugin` it imports from.
    pub contract_versions: Vec<String>,
    /// Its imports.
    pub imports: Vec<Item>,
    /// Its exports.
    pub exports: Vec<Item>,
    /// Why this host cannot link it, if it cannot.
    pub link_error: Option<String>,
}

// === impl Inspection ===

impl Inspection {
    /// Whether this host can load it.
    pub fn loadable(&self) -> bool {
        self.world.is_some() && self.link_error.is_none()
    }
}

pub(crate) async fn inspect(
    shared: &Arc<Shared>,
    source: PluginSource,
) -> Result<Inspection, InspectError> {
    let fail = |kind| InspectError {
        source_name: source.display_name(),
        kind,
    };
    let (component, sha256, _) = loader::read_and_compile(shared, &source)
        .await
        .map_err(fail)?;
    let ty = component.component_type();
    let engine = &shared.engine;
    let imports: Vec<Item> = ty
        .imports(engine)
        .map(|(name, item)| Item {
            name: name.to_owned(),
            kind: kind_of(&item.ty),
        })
        .collect();
    let exports: Vec<Item> = ty
        .exports(engine)
        .map(|(name, item)| Item {
            name: name.to_owned(),
            kind: kind_of(&item.ty),
        })
        .collect();
    let mut contract_versions: Vec<String> = imports
        .iter()
        .filter_map(|i| contract_version(&i.name))
        .map(str::to_owned)
        .collect();
    contract_versions.sort();
    contract_versions.dedup();
    let exports_all = |functions: &[&str]| {
        functions
            .iter()
            .all(|f| exports.iter().any(|e| e.name == *f && e.kind == "function"))
    };
    let kind = if exports_all(&["describe", "run"]) {
        Some("check")
    } else if exports_all(&["describe", "process"]) {
        Some("processor")
    } else if exports_all(&["describe", "process-columns"]) {
        Some("column-processor")
    } else {
        None
    };
    let world = match (kind, contract_versions.as_slice()) {
        (Some(kind), [version]) if SUPPORTED_SERIES.iter().any(|s| version.starts_with(s)) => {
            Some(format!("{PACKAGE}/{kind}@{version}"))
        }
        _ => None,
    };
    let link_error = shared
        .linker
        .instantiate_pre(&component)
        .err()
        .map(|e| format!("{e:#}"));
    Ok(Inspection {
        sha256,
        world,
        contract_versions,
        imports,
        exports,
        link_error,
    })
}

/// `0.1.0` for `neurallog:plugin/tls@0.1.0`.
fn contract_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    Some(rest.split_once('@')?.1)
}

fn kind_of(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "function",
        ComponentItem::CoreFunc(_) => "core-function",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions_come_from_interface_names() {
        assert_eq!(
            contract_version("neurallog:plugin/tls@0.1.0"),
            Some("0.1.0")
        );
        assert_eq!(contract_version("neurallog:plugin/tls"), None);
        assert_eq!(contract_version("neurallog:plugins/tls@1.0.0"), None);
        assert_eq!(contract_version("wasi:io/streams@0.2.6"), None);
    }
}
