//! Builds the first-party check plugins in `plugins/` for `wasm32-wasip2`
//! and generates the table `src/embedded.rs` includes, so they ship inside
//! the binary; and generates the list of files `src/scaffold/` includes
//! (the plugin SDK as it is packaged, the template's code and the plugins'
//! lock file), which `neurallog-agent plugin new` writes out.
//!
//! The plugins are their own cargo workspace, built here with a nested
//! cargo into a target directory beside this build's (wasmtime's
//! test-programs do the same). The `wasm32-wasip2` target must be
//! installed; `./x run` and `./x test` install it.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (check type, crate directory, component file stem).
const PLUGINS: &[(&str, &str, &str)] = &[
    ("cert_expiry", "cert-expiry", "cert_expiry"),
    ("disk_usage", "disk-usage", "disk_usage"),
    ("backup_verify", "backup-verify", "backup_verify"),
    ("heartbeat", "heartbeat", "heartbeat"),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .parent()
        .expect("agent/ is inside the repository")
        .to_owned();
    let plugins = repo.join("plugins");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    // Relative to agent/, so that one target directory shared by two
    // checkouts (CI's clone, a working tree) watches the files of the
    // checkout being built, not those of whichever built it last.
    for path in ["Cargo.toml", "Cargo.lock", "sdk"] {
        println!("cargo:rerun-if-changed=../plugins/{path}");
    }
    for (_, dir, _) in PLUGINS {
        println!("cargo:rerun-if-changed=../plugins/{dir}/src");
        println!("cargo:rerun-if-changed=../plugins/{dir}/Cargo.toml");
    }
    println!("cargo:rerun-if-changed=../plugins/template/src");
    println!("cargo:rerun-if-changed=../plugins/processor-template/src");
    println!("cargo:rerun-if-changed=../wit");
    println!("cargo:rerun-if-env-changed=NEURALLOG_PLUGINS_DIR");

    let components = match env::var_os("NEURALLOG_PLUGINS_DIR") {
        // Prebuilt components (a packaging pipeline that built them apart).
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&plugins, &out),
    };

    let mut table = String::from(
        "/// Every first-party plugin, by check type.\npub static FIRST_PARTY: &[FirstPartyPlugin] = &[\n",
    );
    for (check_type, dir, stem) in PLUGINS {
        let component = components.join(format!("{stem}.wasm"));
        assert!(component.exists(), "{} was not built", component.display());
        let _ = writeln!(
            table,
            "    FirstPartyPlugin {{ check_type: {check_type:?}, name: {dir:?}, bytes: include_bytes!({:?}) }},",
            component.display().to_string()
        );
    }
    table.push_str("];\n");
    fs::write(out.join("embedded_plugins.rs"), table).expect("OUT_DIR is writable");
    fs::write(out.join("scaffold_files.rs"), scaffold_files(&plugins))
        .expect("OUT_DIR is writable");
}

/// The table of files `plugin new` writes: the SDK's packaged files (those
/// its manifest's `include` names: the manifest, README, sources and WIT
/// copy), the template's `src/lib.rs` and the plugins' `Cargo.lock`.
fn scaffold_files(plugins: &Path) -> String {
    let sdk = plugins.join("sdk");
    let mut files = Vec::new();
    for name in ["Cargo.toml", "README.md"] {
        files.push(sdk.join(name));
    }
    collect(&sdk.join("src"), "rs", &mut files);
    collect(&sdk.join("wit"), "wit", &mut files);
    files.sort();
    let mut table = String::from(
        "/// The SDK's packaged files: (path inside the crate, contents).\npub(super) static SDK_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let relative = file.strip_prefix(&sdk).expect("collected under sdk/");
        let _ = writeln!(
            table,
            "    ({:?}, {}),",
            relative.display().to_string(),
            include_from_checkout(plugins, file)
        );
    }
    table.push_str("];\n");
    for (name, path) in [
        ("TEMPLATE_LIB_RS", plugins.join("template/src/lib.rs")),
        (
            "PROCESSOR_TEMPLATE_LIB_RS",
            plugins.join("processor-template/src/lib.rs"),
        ),
        ("PLUGINS_CARGO_LOCK", plugins.join("Cargo.lock")),
    ] {
        let _ = writeln!(
            table,
            "pub(super) static {name}: &str = {};",
            include_from_checkout(plugins, &path)
        );
    }
    table
}

/// `include_str!` of `file` (under `plugins/`) relative to the agent crate
/// being compiled, not by the absolute path of the checkout this script
/// ran in: a target directory shared by two checkouts may reuse this
/// script's output for the other one, whose files are elsewhere.
fn include_from_checkout(plugins: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(plugins).expect("a file under plugins/");
    format!(
        "include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))",
        format!("/../plugins/{}", relative.display())
    )
}

/// Every file under `dir` (recursively) ending in `.{extension}`.
fn collect(dir: &Path, extension: &str, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("read a directory entry").path();
        if path.is_dir() {
            collect(&path, extension, files);
        } else if path.extension().is_some_and(|e| e == extension) {
            files.push(path);
        }
    }
}

/// Build the plugins workspace; returns the directory of the components.
fn build_plugins(plugins: &Path, out: &Path) -> PathBuf {
    ensure_wasm_target();
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out: keep
    // the plugins' own target directory beside the profiles so builds reuse
    // it (and `cargo clean` removes it).
    let target_dir = out.ancestors().nth(4).unwrap_or(out).join("wasm-plugins");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(plugins.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&target_dir);
    for (dir, _) in PLUGINS.iter().map(|(_, dir, stem)| (dir, stem)) {
        cmd.args(["-p", dir]);
    }
    // What the outer build sets for itself must not leak into the nested
    // one (clippy's wrapper, host RUSTFLAGS, the outer target).
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the plugins");
    assert!(
        status.success(),
        "building the first-party plugins in {} failed",
        plugins.display()
    );
    target_dir.join("wasm32-wasip2").join("release")
}

fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot.is_some_and(|root| root.join("lib/rustlib/wasm32-wasip2").exists());
    assert!(
        installed,
        "the wasm32-wasip2 Rust target is not installed: run `rustup target add wasm32-wasip2` \
         (`./x run` and `./x test` do it for you). The agent embeds its first-party plugins, built for it."
    );
}
