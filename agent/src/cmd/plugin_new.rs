//! `neurallog-agent plugin new NAME [--dir DIR] [--sdk-version VERSION]`:
//! writes the crate [`Scaffold`] makes into a directory of its own, then
//! says how to build it.

use std::io;
use std::path::{Path, PathBuf};

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PluginNewArgs, print_stdout};
use crate::scaffold::{PluginKind, SDK_VENDOR_DIR, Scaffold, SdkSource, sdk_version};

/// Why the crate could not be written.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// The directory is there already: nothing is overwritten.
    #[error("{0} already exists: choose another --dir, or remove it first")]
    Exists(PathBuf),
    /// Creating a directory or writing a file failed.
    #[error("cannot write {path}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Write the new crate; returns the exit code.
pub(super) fn plugin_new(args: &PluginNewArgs) -> u8 {
    let sdk = match &args.sdk_version {
        Some(version) => SdkSource::Registry(version.clone()),
        None => SdkSource::Vendored,
    };
    let scaffold = match Scaffold::new(&args.name, sdk) {
        Ok(scaffold) => scaffold.with_kind(args.kind),
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if let Err(error) = write(&dir, &scaffold.files()) {
        eprintln!("error: {}", crate::error::Chain(&error));
        return EXIT_FAILURE;
    }
    print_stdout(&summary(&scaffold, &dir));
    EXIT_OK
}

/// Creates `dir` (which must not exist) and writes `files` into it. On a
/// failure, what was written is removed again.
fn write(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), WriteError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError::Io { path, source }
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    // Creating the directory itself claims it: an existing one (even empty)
    // is refused, never written into.
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(WriteError::Exists(dir.to_owned()));
        }
        Err(error) => return Err(io_error(dir)(error)),
    }
    let written = files.iter().try_for_each(|(relative, contents)| {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::write(&path, contents).map_err(io_error(&path))
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

/// What was made and the commands that build and test it.
fn summary(scaffold: &Scaffold, dir: &Path) -> String {
    let sdk = match scaffold.sdk() {
        SdkSource::Vendored => format!(
            "neurallog-plugin-sdk {} vendored in {SDK_VENDOR_DIR}",
            sdk_version()
        ),
        SdkSource::Registry(version) => format!("neurallog-plugin-sdk {version} from crates.io"),
    };
    let shown = shell_word(&dir.display().to_string());
    let (kind, run) = match scaffold.kind() {
        PluginKind::Check => ("check plugin", "--config CONFIG.json --grant-dir DIR"),
        PluginKind::Processor => (
            "log processor",
            "--config CONFIG.json --input RECORDS.jsonl",
        ),
    };
    format!(
        "Created the {kind} `{name}` in {shown} ({sdk}).\n\
         \n\
         Build the component (once before: rustup target add wasm32-wasip2):\n\
         \x20   cd {shown} && {build}\n\
         It is then {shown}/target/wasm32-wasip2/release/{component}\n\
         \n\
         Test its logic natively:\n\
         \x20   cd {shown} && cargo test\n\
         \n\
         Run it once under the agent's sandbox:\n\
         \x20   neurallog-agent plugin run {shown}/target/wasm32-wasip2/release/{component} {run}\n\
         \n\
         {shown}/README.md says more, src/lib.rs is the plugin.",
        name = scaffold.name(),
        build = scaffold.build_command(),
        component = scaffold.component_file(),
    )
}

/// `word` as one shell word: as is when it needs no quoting, else in
/// single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b));
    match plain {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_word("/tmp/my-check"), "/tmp/my-check");
        assert_eq!(shell_word("my dir/x"), "'my dir/x'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn an_existing_directory_is_refused_and_left_alone() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("taken");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "mine").unwrap();
        let files = vec![(PathBuf::from("keep.txt"), "theirs".to_owned())];
        let error = write(&dir, &files).unwrap_err();
        assert!(
            matches!(error, WriteError::Exists(ref p) if *p == dir),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn files_are_written_under_a_new_directory_with_its_parents() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/b/new-check");
        let files = vec![
            (PathBuf::from("Cargo.toml"), "[package]\n".to_owned()),
            (
                PathBuf::from("vendor/sdk/src/lib.rs"),
                "//! sdk\n".to_owned(),
            ),
        ];
        write(&dir, &files).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
            "[package]\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("vendor/sdk/src/lib.rs")).unwrap(),
            "//! sdk\n"
        );
    }
}
