use std::path::Path;

use super::embedded::{PROCESSOR_TEMPLATE_LIB_RS, SDK_FILES, TEMPLATE_LIB_RS, sdk_file};
use super::render::{PluginKind, SDK_VENDOR_DIR, Scaffold, ScaffoldError, SdkSource, sdk_version};

/// The repository's contract, which the agent's bindings are generated from.
const REPO_WIT: &str = include_str!("../../../wit/plugin.wit");

fn file<'a>(files: &'a [(std::path::PathBuf, String)], path: &str) -> Option<&'a str> {
    files
        .iter()
        .find(|(p, _)| p == Path::new(path))
        .map(|(_, contents)| contents.as_str())
}

#[test]
fn the_sdk_carries_the_same_wit_as_the_agent() {
    let copy = sdk_file("wit/plugin.wit").expect("the SDK's copy of the WIT is embedded");
    assert!(
        copy == REPO_WIT,
        "plugins/sdk/wit/plugin.wit differs from wit/plugin.wit: copy the contract into the SDK \
         (cp wit/plugin.wit plugins/sdk/wit/plugin.wit) so that plugins built with it match the agent"
    );
    // Nothing else in the SDK's copy of the contract.
    let wit: Vec<&str> = SDK_FILES
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| path.starts_with("wit/"))
        .collect();
    assert_eq!(wit, ["wit/plugin.wit"]);
}

#[test]
fn the_sdk_manifest_stands_alone() {
    let manifest = sdk_file("Cargo.toml").expect("the SDK's manifest is embedded");
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("workspace"),
            "inherits from a workspace: {line}"
        );
        assert!(!line.contains("publish = false"), "{line}");
    }
    assert_eq!(sdk_version(), "0.1.1");
    for needed in [
        "README.md",
        "src/lib.rs",
        "src/host/bindings.rs",
        "src/testing.rs",
    ] {
        assert!(sdk_file(needed).is_some(), "{needed} is embedded");
    }
}

#[test]
fn a_vendored_scaffold_holds_the_crate_and_the_sdk() {
    let scaffold = Scaffold::new("disk-latency", SdkSource::Vendored).unwrap();
    let files = scaffold.files();
    let manifest = file(&files, "Cargo.toml").unwrap();
    assert!(
        manifest.starts_with("[package]\nname = \"disk-latency\"\n"),
        "{manifest}"
    );
    assert!(manifest.contains("crate-type = [\"cdylib\"]"));
    assert!(manifest.contains(
        "neurallog-plugin-sdk = { path = \"vendor/neurallog-plugin-sdk\", version = \"0.1.1\" }"
    ));
    assert!(manifest.contains("\n[workspace]\n"));
    // The SDK's own requirements, without `optional`.
    assert!(
        manifest.contains(
            "schemars = { version = \"1.2\", default-features = false, features = [\"derive\", \"std\"] }\n"
        ),
        "{manifest}"
    );
    assert!(manifest.contains("serde = { version = \"1.0.228\", features = [\"derive\"] }\n"));
    assert_eq!(scaffold.component_file(), "disk_latency.wasm");

    for (path, contents) in SDK_FILES {
        let vendored = format!("{SDK_VENDOR_DIR}/{path}");
        assert_eq!(file(&files, &vendored), Some(*contents), "{vendored}");
    }
    assert!(
        file(&files, "Cargo.lock")
            .unwrap()
            .contains("name = \"wit-bindgen\"")
    );

    let lib = file(&files, "src/lib.rs").unwrap();
    assert!(
        lib.starts_with("//! `disk-latency`: a NeuralLog check plugin"),
        "{lib}"
    );
    assert!(!lib.contains("`template`"));
    // The template's body, tests included, follows the new first paragraph.
    let body = &TEMPLATE_LIB_RS[TEMPLATE_LIB_RS.find("\n//!\n").unwrap() + 1..];
    assert!(lib.ends_with(body));
    assert!(lib.contains("neurallog_plugin_sdk::export_check!(FileCheck);"));
    assert!(lib.contains("fn run_reads_the_file_and_parses_the_config()"));

    let readme = file(&files, "README.md").unwrap();
    assert!(readme.starts_with("# disk-latency\n"));
    assert!(readme.contains("```sh\ncargo build --release --target wasm32-wasip2\n```"));
    assert!(readme.contains("target/wasm32-wasip2/release/disk_latency.wasm"));
}

#[test]
fn a_registry_scaffold_names_the_version_and_vendors_nothing() {
    let scaffold = Scaffold::new("my_check", SdkSource::Registry("0.1".into())).unwrap();
    let files = scaffold.files();
    assert!(
        file(&files, "Cargo.toml")
            .unwrap()
            .contains("\nneurallog-plugin-sdk = \"0.1\"\n")
    );
    assert!(files.iter().all(|(path, _)| !path.starts_with("vendor")));
    assert!(file(&files, "Cargo.lock").is_none());
}

#[test]
fn names_must_be_crate_names() {
    let long = "x".repeat(65);
    for good in ["a", "my-check", "my_check2", &"x".repeat(64)] {
        assert!(Scaffold::new(good, SdkSource::Vendored).is_ok(), "{good}");
    }
    for (bad, reason) in [
        ("", "it is empty"),
        ("2fa", "it must start with an ASCII letter"),
        ("-x", "it must start with an ASCII letter"),
        (
            "my check",
            "' ' is not allowed: use ASCII letters, digits, `-` and `_`",
        ),
        ("../x", "it must start with an ASCII letter"),
        (
            "a/b",
            "'/' is not allowed: use ASCII letters, digits, `-` and `_`",
        ),
        (
            "café",
            "'é' is not allowed: use ASCII letters, digits, `-` and `_`",
        ),
        ("fn", "it is a Rust keyword"),
        (
            "test",
            "the name is taken by Rust or by a dependency of the plugin",
        ),
        (
            "serde",
            "the name is taken by Rust or by a dependency of the plugin",
        ),
        (long.as_str(), "it is longer than 64 characters"),
    ] {
        assert_eq!(
            Scaffold::new(bad, SdkSource::Vendored).unwrap_err(),
            ScaffoldError::InvalidName {
                name: bad.to_owned(),
                reason: reason.to_owned()
            },
            "{bad}"
        );
    }
}

#[test]
fn sdk_versions_must_be_requirements() {
    for good in ["0.1", "0.1.0", "=0.1.0", "^0.1", ">=0.1, <0.3"] {
        assert!(
            Scaffold::new("x", SdkSource::Registry(good.into())).is_ok(),
            "{good}"
        );
    }
    for bad in ["", "latest", "0.1\"\nevil = \"1", "{ path = \"/\" }"] {
        assert_eq!(
            Scaffold::new("x", SdkSource::Registry(bad.into())).unwrap_err(),
            ScaffoldError::InvalidSdkVersion(bad.to_owned()),
            "{bad:?}"
        );
    }
}

#[test]
fn a_processor_scaffold_holds_the_processor_template_and_its_readme() {
    let scaffold = Scaffold::new("edge-fields", SdkSource::Vendored)
        .unwrap()
        .with_kind(PluginKind::Processor);
    let files = scaffold.files();
    let lib = file(&files, "src/lib.rs").unwrap();
    assert!(
        lib.starts_with("//! `edge-fields`: a NeuralLog log processor"),
        "{lib}"
    );
    let body = &PROCESSOR_TEMPLATE_LIB_RS[PROCESSOR_TEMPLATE_LIB_RS.find("\n//!\n").unwrap() + 1..];
    assert!(lib.ends_with(body));
    assert!(lib.contains("neurallog_plugin_sdk::export_column_processor!(LineProcessor);"));
    let readme = file(&files, "README.md").unwrap();
    assert!(readme.starts_with("# edge-fields\n"));
    assert!(readme.contains("world `column-processor`"));
    assert!(readme.contains("    type: wasm\n    inputs: [app_logs]\n    plugin: edge_fields\n"));
    // The SDK is vendored as for a check.
    assert!(file(&files, "vendor/neurallog-plugin-sdk/src/processor.rs").is_some());
    assert!(file(&files, "vendor/neurallog-plugin-sdk/src/columns.rs").is_some());
}
