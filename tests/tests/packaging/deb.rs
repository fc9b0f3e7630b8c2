//! The Debian package built by `cargo deb -p neurallog-agent` from the
//! `[package.metadata.deb]` of `agent/Cargo.toml`.
//!
//! `cargo deb` needs a release build, minutes of compiling that would
//! compete with the timing-sensitive tests of this binary if it ran here;
//! `./x test` builds the package before `cargo test` instead, and these tests
//! read `<target dir>/debian/neurallog-agent_<version>-1_<arch>.deb`.
//!
//! The install test is a real `dpkg -i` with the real maintainer scripts,
//! in a scratch root: a copy-on-write overlay of this machine's root
//! filesystem (its dpkg database and the package's dependencies included),
//! in a private mount namespace, entered with `chroot`. Everything the
//! install writes lands in a tmpfs that disappears with the namespace; the
//! machine itself is untouched. It needs root (mounts and chroot), as
//! `./x test` does for its set-up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{output, repo, text, workspace_version};

const BUILD_HINT: &str =
    "build it first: `cargo deb -p neurallog-agent` (`./x test` does, before `cargo test`)";

/// The target directory this test binary was built in
/// (`<target>/<profile>/deps/<exe>`), where `cargo deb` writes too.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps layout")
        .to_path_buf()
}

fn arch() -> String {
    let out = output(
        Command::new("dpkg").arg("--print-architecture"),
        "dpkg is Debian's",
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The package, which must exist and be built from the current packaging
/// files.
fn deb() -> PathBuf {
    let path = target_dir().join("debian").join(format!(
        "neurallog-agent_{}-1_{}.deb",
        workspace_version(),
        arch()
    ));
    assert!(path.exists(), "{} is missing; {BUILD_HINT}", path.display());
    path
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = output(
        Command::new("dpkg-deb").args(args).arg(deb),
        "dpkg-deb is Debian's",
    );
    assert!(out.status.success(), "dpkg-deb {args:?}:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn deb_contents_control_and_lintian() {
    let deb = deb();
    let listing = dpkg_deb(&["--contents"], &deb);
    println!("dpkg-deb --contents {}:\n{listing}", deb.display());
    // mode owner path, e.g. "-rwxr-xr-x 0/0 123 2026-01-01 00:00 ./usr/bin/x"
    let entries: BTreeSet<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[5].trim_start_matches('.').to_owned(),
            )
        })
        .collect();
    for (mode, path) in [
        ("-rwxr-xr-x", "/usr/bin/neurallog-agent"),
        (
            "-rw-r--r--",
            "/usr/lib/systemd/system/neurallog-agent.service",
        ),
        ("-rw-r-----", "/etc/neurallog-agent/agent.yaml"),
        ("-rw-r--r--", "/etc/default/neurallog-agent"),
        ("drwxr-xr-x", "/usr/lib/neurallog-agent/plugins/"),
        ("-rw-r--r--", "/usr/share/doc/neurallog-agent/copyright"),
        (
            "-rw-r--r--",
            "/usr/share/doc/neurallog-agent/changelog.Debian.gz",
        ),
        ("-rw-r--r--", "/usr/share/lintian/overrides/neurallog-agent"),
    ] {
        assert!(
            entries.contains(&(mode.to_owned(), "0/0".to_owned(), path.to_owned())),
            "{mode} root {path} not in the package"
        );
    }
    // The stripped binary's line tables, for backtraces.
    assert!(
        entries
            .iter()
            .any(|(_, _, p)| p.starts_with("/usr/lib/debug/.build-id/") && p.ends_with(".debug"))
    );

    // Control fields and conffiles.
    let field = |name: &str| {
        let out = output(
            Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name),
            "dpkg-deb",
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(field("Package"), "neurallog-agent");
    assert_eq!(field("Version"), format!("{}-1", workspace_version()));
    let depends = field("Depends");
    assert!(
        depends.contains("adduser") && depends.contains("libc6"),
        "{depends}"
    );
    let control = tempfile::tempdir().unwrap();
    let out = output(
        Command::new("dpkg-deb")
            .arg("--control")
            .arg(&deb)
            .arg(control.path()),
        "dpkg-deb",
    );
    assert!(out.status.success(), "{}", text(&out));
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/neurallog-agent/agent.yaml"),
        "{conffiles}"
    );
    for script in ["postinst", "postrm"] {
        let packaged = std::fs::read_to_string(control.path().join(script)).unwrap();
        let ours = std::fs::read_to_string(repo().join("packaging/debian").join(script)).unwrap();
        let (head, _) = ours.split_once("#DEBHELPER#").unwrap();
        assert!(
            packaged.starts_with(head),
            "{script} is stale; {BUILD_HINT}"
        );
    }

    // The packaged files are the repository's (and the .deb is not stale).
    let root = tempfile::tempdir().unwrap();
    let out = output(
        Command::new("dpkg-deb")
            .arg("--extract")
            .arg(&deb)
            .arg(root.path()),
        "dpkg-deb",
    );
    assert!(out.status.success(), "{}", text(&out));
    for (packaged, source) in [
        ("etc/neurallog-agent/agent.yaml", "config/examples/vm.yaml"),
        (
            "usr/lib/systemd/system/neurallog-agent.service",
            "packaging/systemd/neurallog-agent.service",
        ),
        (
            "etc/default/neurallog-agent",
            "packaging/debian/neurallog-agent.default",
        ),
    ] {
        assert_eq!(
            std::fs::read(root.path().join(packaged)).unwrap(),
            std::fs::read(repo().join(source)).unwrap(),
            "{packaged} differs from {source}; {BUILD_HINT}"
        );
    }

    // lintian: no error (warnings are printed).
    let out = output(
        Command::new("lintian")
            .args(["--fail-on", "error", "--info"])
            .arg(&deb),
        "lintian is Debian's (./x setup installs it)",
    );
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("lintian {}:\n{report}", deb.display());
    assert!(out.status.success(), "lintian failed:\n{}", text(&out));
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
}

/// Installs the package in an overlay of `/` and reports what it finds.
/// Arguments: the .deb, an empty directory for the overlay.
const SCRATCH_INSTALL: &str = r##"
set -eu
deb="$1"; scratch="$2"
mount -t tmpfs scratch "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/root"
root="$scratch/root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmp "$root/tmp"
mount -t tmpfs run "$root/run"
cp "$deb" "$root/tmp/neurallog-agent.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== install"
getent passwd neurallog-agent >/dev/null && { echo "the machine already has a neurallog-agent user"; exit 1; }
in_root dpkg -i /tmp/neurallog-agent.deb
echo "== user"
in_root getent passwd neurallog-agent
echo "== modes"
in_root stat -c '%n %U:%G %a' /usr/bin/neurallog-agent /etc/neurallog-agent/agent.yaml /var/lib/neurallog-agent
echo "== validate"
in_root setpriv --reuid neurallog-agent --regid neurallog-agent --init-groups \
    /usr/bin/neurallog-agent validate --config /etc/neurallog-agent/agent.yaml
echo "== verify"
in_root systemd-analyze verify /usr/lib/systemd/system/neurallog-agent.service 2>&1
echo "verify exit 0"
echo "== enabled"
in_root readlink /etc/systemd/system/multi-user.target.wants/neurallog-agent.service
echo "== upgrade"
echo "# kept across upgrades" >> "$root/etc/neurallog-agent/agent.yaml"
in_root dpkg -i --force-confold /tmp/neurallog-agent.deb
echo "last line: $(tail -n 1 "$root/etc/neurallog-agent/agent.yaml")"
echo "mode: $(in_root stat -c '%n %U:%G %a' /etc/neurallog-agent/agent.yaml)"
echo "== purge"
in_root dpkg --purge neurallog-agent
for p in /usr/bin/neurallog-agent /etc/neurallog-agent /var/lib/neurallog-agent; do
    [ -e "$root$p" ] && echo "left: $p" || echo "gone: $p"
done
echo "== done"
"##;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

#[test]
fn deb_installs_validates_upgrades_and_purges_in_a_scratch_root() {
    let deb = deb();
    assert!(
        is_root(),
        "installing into a scratch root needs root (mount namespaces, chroot): run the tests as root, as ./x test and CI do"
    );
    let scratch = tempfile::tempdir().unwrap();
    let out = output(
        Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                SCRATCH_INSTALL,
                "sh",
            ])
            .arg(&deb)
            .arg(scratch.path()),
        "unshare is util-linux's",
    );
    let log = text(&out);
    println!("{log}");
    assert!(out.status.success(), "scratch install failed:\n{log}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let section = |name: &str| -> String {
        let start = stdout
            .find(&format!("== {name}\n"))
            .unwrap_or_else(|| panic!("no {name} section:\n{log}"));
        let rest = &stdout[start + name.len() + 4..];
        rest[..rest.find("\n== ").map_or(rest.len(), |e| e + 1)].to_owned()
    };

    assert!(
        section("install").contains("Setting up neurallog-agent"),
        "{log}"
    );
    let user = section("user");
    let fields: Vec<&str> = user.trim().split(':').collect();
    assert_eq!(fields[0], "neurallog-agent");
    assert!(
        fields[2].parse::<u32>().unwrap() < 1000,
        "a system uid: {user}"
    );
    assert_eq!(fields[5], "/var/lib/neurallog-agent");
    assert_eq!(fields[6], "/usr/sbin/nologin");
    assert_eq!(
        section("modes"),
        "/usr/bin/neurallog-agent root:root 755\n\
         /etc/neurallog-agent/agent.yaml root:neurallog-agent 640\n\
         /var/lib/neurallog-agent neurallog-agent:neurallog-agent 750\n"
    );
    // The agent's own user reads its configuration and finds it valid.
    assert_eq!(
        section("validate"),
        "/etc/neurallog-agent/agent.yaml: valid\n"
    );
    // The unit as installed, unmodified, with its binary in place.
    assert_eq!(section("verify"), "verify exit 0\n", "{log}");
    assert!(
        section("enabled")
            .trim()
            .ends_with("/neurallog-agent.service")
    );
    // An upgrade keeps the administrator's configuration, and its modes.
    let upgrade = section("upgrade");
    assert!(upgrade.contains("Setting up neurallog-agent"), "{log}");
    assert!(
        upgrade.contains("\nlast line: # kept across upgrades\n"),
        "{log}"
    );
    assert!(
        upgrade.contains("\nmode: /etc/neurallog-agent/agent.yaml root:neurallog-agent 640\n"),
        "{log}"
    );
    assert_eq!(
        section("purge")
            .lines()
            .filter(|l| l.starts_with("gone: ") || l.starts_with("left: "))
            .collect::<Vec<_>>(),
        [
            "gone: /usr/bin/neurallog-agent",
            "gone: /etc/neurallog-agent",
            "gone: /var/lib/neurallog-agent"
        ]
    );
    assert!(stdout.contains("== done"));
    // The machine itself did not get the user.
    let out = Command::new("getent")
        .args(["passwd", "neurallog-agent"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the install leaked out of its scratch root"
    );
}
