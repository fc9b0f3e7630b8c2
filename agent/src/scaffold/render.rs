//! The files of a new plugin crate, from its name and where its SDK comes
//! from. Pure: nothing here touches the disk.

use std::path::PathBuf;

use super::embedded::{
    PLUGINS_CARGO_LOCK, PROCESSOR_TEMPLATE_LIB_RS, SDK_FILES, TEMPLATE_LIB_RS, sdk_file,
};

/// Where a new crate's SDK is written, relative to the crate.
pub const SDK_VENDOR_DIR: &str = "vendor/neurallog-plugin-sdk";

/// Names a crate may not take: Rust's reserved crate names, and those of
/// the crates the plugin depends on.
const RESERVED_NAMES: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "neurallog-plugin-sdk",
    "neurallog_plugin_sdk",
    "serde",
    "schemars",
];

/// Rust's keywords (2024 edition, strict and reserved): not a crate name.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Longest plugin name: the agent's limit on a plugin's name.
const MAX_NAME_LEN: usize = 64;

/// Where the new crate's `neurallog-plugin-sdk` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The SDK built into the agent, written under [`SDK_VENDOR_DIR`] and
    /// depended on by path: builds without the SDK on any registry.
    Vendored,
    /// The SDK from crates.io, at this version requirement (`0.1`).
    Registry(String),
}

/// Which world the new plugin targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PluginKind {
    /// A check (world `check`): run on a schedule, returns a status and
    /// metrics. From `plugins/template`.
    #[default]
    Check,
    /// A log processor (world `processor`): a batch of log records in, the
    /// records to keep out. From `plugins/processor-template`.
    Processor,
}

/// A plugin crate to write: a valid name, its SDK source and its kind.
#[derive(Debug, Clone)]
pub struct Scaffold {
    name: String,
    sdk: SdkSource,
    kind: PluginKind,
}

/// Why a crate cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a crate's (or a plugin's) name.
    #[error("invalid plugin name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What a name must be.
        reason: String,
    },
    /// The SDK version is not a version requirement.
    #[error("invalid SDK version {0:?}: expected a version requirement such as 0.1 or =0.1.0")]
    InvalidSdkVersion(String),
}

/// The version of the SDK built into the agent (from its manifest).
pub fn sdk_version() -> &'static str {
    sdk_file("Cargo.toml")
        .and_then(|manifest| manifest_value(manifest, "version"))
        .and_then(|value| value.strip_prefix('"')?.strip_suffix('"'))
        .unwrap_or("0.0.0")
}

// === impl Scaffold ===

impl Scaffold {
    /// A crate named `name`, its SDK from `sdk`, both checked.
    pub fn new(name: &str, sdk: SdkSource) -> Result<Self, ScaffoldError> {
        check_name(name).map_err(|reason| ScaffoldError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        if let SdkSource::Registry(version) = &sdk
            && !valid_version_requirement(version)
        {
            return Err(ScaffoldError::InvalidSdkVersion(version.clone()));
        }
        Ok(Self {
            name: name.to_owned(),
            sdk,
            kind: PluginKind::Check,
        })
    }

    /// The same crate, of `kind`.
    #[must_use]
    pub fn with_kind(mut self, kind: PluginKind) -> Self {
        self.kind = kind;
        self
    }

    /// Its kind.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The crate's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the SDK comes from.
    pub fn sdk(&self) -> &SdkSource {
        &self.sdk
    }

    /// The file name of the component the build writes: the crate's name
    /// with `-` turned into `_`, as cargo names a `cdylib`.
    pub fn component_file(&self) -> String {
        format!("{}.wasm", self.name.replace('-', "_"))
    }

    /// The command that builds the component, run in the crate.
    pub fn build_command(&self) -> &'static str {
        "cargo build --release --target wasm32-wasip2"
    }

    /// Every file of the crate: its path inside the crate and its contents.
    pub fn files(&self) -> Vec<(PathBuf, String)> {
        let mut files = vec![
            (PathBuf::from("Cargo.toml"), self.manifest()),
            (PathBuf::from("src/lib.rs"), self.lib_rs()),
            (PathBuf::from("README.md"), self.readme()),
            (PathBuf::from(".gitignore"), "/target\n".to_owned()),
        ];
        if self.sdk == SdkSource::Vendored {
            // The versions the agent's own plugins are built and tested
            // with; cargo drops the entries this crate does not use.
            files.push((PathBuf::from("Cargo.lock"), PLUGINS_CARGO_LOCK.to_owned()));
            for (path, contents) in SDK_FILES {
                files.push((
                    PathBuf::from(SDK_VENDOR_DIR).join(path),
                    (*contents).to_owned(),
                ));
            }
        }
        files
    }

    fn manifest(&self) -> String {
        let sdk = match &self.sdk {
            SdkSource::Vendored => format!(
                "neurallog-plugin-sdk = {{ path = \"{SDK_VENDOR_DIR}\", version = \"{}\" }}",
                sdk_version()
            ),
            SdkSource::Registry(version) => format!("neurallog-plugin-sdk = \"{version}\""),
        };
        let name = &self.name;
        let serde = sdk_dependency("serde");
        let schemars = sdk_dependency("schemars");
        format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
rust-version = "1.95"
publish = false

[lib]
# A cdylib built for wasm32-wasip2 is a WebAssembly component:
#   cargo build --release --target wasm32-wasip2
# writes target/wasm32-wasip2/release/{component}.
crate-type = ["cdylib"]

[dependencies]
{sdk}
# The same requirements as the SDK's, so that `#[derive(Deserialize,
# JsonSchema)]` finds the crates the SDK uses.
{serde}
{schemars}

# A workspace of its own, wherever this directory is put.
[workspace]

# Small components: the agent reads, compiles and caches them.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#,
            component = self.component_file(),
        )
    }

    /// The template's code, its first paragraph naming this crate.
    fn lib_rs(&self) -> String {
        let (what, template) = match self.kind {
            PluginKind::Check => ("check plugin", TEMPLATE_LIB_RS),
            PluginKind::Processor => ("log processor", PROCESSOR_TEMPLATE_LIB_RS),
        };
        let header = format!(
            "//! `{}`: a NeuralLog {what}, made by `neurallog-agent plugin new`\n\
             //! from the agent's template; README.md says how to build, test and\n\
             //! deploy it.\n",
            self.name
        );
        match template.find("\n//!\n") {
            Some(end) => format!("{header}{}", &template[end + 1..]),
            None => template.to_owned(),
        }
    }

    fn readme(&self) -> String {
        if self.kind == PluginKind::Processor {
            return self.processor_readme();
        }
        let name = &self.name;
        let component = self.component_file();
        let build = self.build_command();
        let sdk = self.sdk_paragraph();
        format!(
            r#"# {name}

A check plugin for the NeuralLog agent: a WebAssembly component for the
world `check` of `neurallog:plugin@0.1.1`. As written by
`neurallog-agent plugin new`, it reports whether a file exists and is not
empty, and its size as the metric `file_size_bytes`; `src/lib.rs` is the
whole plugin, to change into your check.

{sdk} SDK 0.1.x components load in agent 0.1.0 and every later agent.

## Build

Once: `rustup target add wasm32-wasip2`. Then, in this directory:

```sh
{build}
```

The component is `target/wasm32-wasip2/release/{component}`.

## Test

`cargo test` runs the unit tests natively: the SDK answers host calls
from an in-memory mock (`neurallog_plugin_sdk::testing`), and
`run_check::<FileCheck>(json)` runs the check as the agent would.

Then run the component once under the agent, with its sandbox and limits:

```sh
echo '{{"path": "/etc/hostname"}}' > config.json
neurallog-agent plugin run target/wasm32-wasip2/release/{component} --config config.json --grant-dir /etc
```

## Deploy

Copy `{component}` into the agent's plugin directory (`plugins.directory`)
and add a check:

```yaml
checks:
  {check}:
    type: wasm
    plugin: {stem}
    interval_secs: 300
    config:
      path: /etc/hostname
    grants:
      directories: ["/etc"]
```
"#,
            check = name.replace('-', "_"),
            stem = component.trim_end_matches(".wasm"),
        )
    }
}

// === impl Scaffold (processor) ===

impl Scaffold {
    fn sdk_paragraph(&self) -> String {
        match &self.sdk {
            SdkSource::Vendored => format!(
                "The SDK, `neurallog-plugin-sdk` {version}, is vendored in `{SDK_VENDOR_DIR}`\n\
                 (written by `neurallog-agent plugin new`); no registry needs to carry it.",
                version = sdk_version()
            ),
            SdkSource::Registry(version) => {
                format!("The SDK is `neurallog-plugin-sdk` {version}, from crates.io.")
            }
        }
    }

    fn processor_readme(&self) -> String {
        let name = &self.name;
        let component = self.component_file();
        let build = self.build_command();
        let sdk = self.sdk_paragraph();
        format!(
            r#"# {name}

A log processor for the NeuralLog agent: a WebAssembly component for the
world `column-processor` of `neurallog:plugin@0.1.1`. The agent hands it
each batch of log records of the `wasm` transform that names it (one call
per batch), laid out by column, and it says for each record whether it goes
on as it came, is dropped, or is replaced; a record kept as it came costs
the agent next to nothing. As written by `neurallog-agent plugin new --kind
processor`, it drops the records whose body contains one of
`drop_if_contains` and marks the others with an attribute; `src/lib.rs` is
the whole plugin, to change into your processor. It needs an agent that
offers contract 0.1.1 (the `wit_package` label of its
`neurallog_agent_build_info` metric).

{sdk}

## Build

Once: `rustup target add wasm32-wasip2`. Then, in this directory:

```sh
{build}
```

The component is `target/wasm32-wasip2/release/{component}`.

## Test

`cargo test` runs the unit tests natively: `run_column_processor::<LineProcessor>(json, &batch)`
runs the processor as the agent would.

Then run the component under the agent, with its sandbox and limits: it
reads records from a file or stdin, one per line (a JSON object with
`body`, `attributes`, `severity_number`, `severity_text`, `timestamp`,
`resource`, or a plain line as the body), and prints what comes out as
JSON lines:

```sh
echo '{{"drop_if_contains": ["GET /healthz"]}}' > config.json
printf 'GET /healthz 200
GET /api 500
' | neurallog-agent plugin run target/wasm32-wasip2/release/{component} --config config.json
```

## Deploy

Copy `{component}` into the agent's plugin directory (`plugins.directory`)
and add a transform between a source and its sinks:

```yaml
transforms:
  {transform}:
    type: wasm
    inputs: [app_logs]
    plugin: {stem}
    config:
      drop_if_contains: ["GET /healthz"]
    on_error: pass      # a batch the processor fails goes on unprocessed
sinks:
  ingest:
    inputs: [{transform}]
    # ...
```

`neurallog-agent validate` checks `config:` against the schema the
processor publishes.
"#,
            transform = name.replace('-', "_"),
            stem = component.trim_end_matches(".wasm"),
        )
    }
}

/// Why `name` is not a valid plugin crate name, if it is not: like
/// cargo's rules, and within the agent's limit on plugin names.
fn check_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    if !first.is_ascii_alphabetic() {
        return Err("it must start with an ASCII letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{bad:?} is not allowed: use ASCII letters, digits, `-` and `_`"
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err("it is a Rust keyword".into());
    }
    if RESERVED_NAMES.contains(&name) {
        return Err("the name is taken by Rust or by a dependency of the plugin".into());
    }
    Ok(())
}

/// Whether `version` reads as a Cargo version requirement: digits, dots
/// and the operators, with at least one digit.
fn valid_version_requirement(version: &str) -> bool {
    version.bytes().any(|b| b.is_ascii_digit())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".^~=<>*, -+".contains(&b))
}

/// The value of the top-level `key = value` line of a manifest, if any.
fn manifest_value<'a>(manifest: &'a str, key: &str) -> Option<&'a str> {
    manifest.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// The SDK's own dependency line for `name`, without `optional`: the
/// requirement and features the new crate must use too.
fn sdk_dependency(name: &str) -> String {
    let value = sdk_file("Cargo.toml")
        .and_then(|manifest| manifest_value(manifest, name))
        .unwrap_or("\"*\"");
    format!("{name} = {}", value.replace(", optional = true", ""))
}
