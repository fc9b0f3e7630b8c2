#!/usr/bin/env python3
"""Render the neurallog-agent chart offline, and generate the plain manifests.

The chart is rendered by Helm's own engine (Helm v4's Go SDK, bundled as a
shared library by the `helm-python-sdk` package from PyPI), so what this
prints is what `helm template` prints. No cluster is contacted.

    render.py template [--set K=V]... [--values FILE]... [--release NAME] [--namespace NS]
        print the manifests as a YAML stream, each preceded by "# Source:"
    render.py generate [--check]
        write (or, with --check, compare) the files derived from others:
          packaging/helm/neurallog-agent/files/agent.yaml
              = config/examples/kubernetes.yaml
          packaging/kubernetes/neurallog-agent.yaml
              = the chart with its default values and the placeholder
                ingest endpoint PLAIN_ENDPOINT, release neurallog-agent in
                namespace neurallog-system, without Helm's own labels and
                trailing spaces
    render.py lint
        run Helm's chart linter; exit 1 on an error or a warning

`./x setup` installs the package (see PYTHON_PACKAGES in ./x).
"""

import argparse
import difflib
import pathlib
import sys

import helm_python as helm

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHART = HERE / "neurallog-agent"
EXAMPLE_CONFIG = REPO / "config" / "examples" / "kubernetes.yaml"
CHART_CONFIG = CHART / "files" / "agent.yaml"
PLAIN = REPO / "packaging" / "kubernetes" / "neurallog-agent.yaml"

RELEASE = "neurallog-agent"
# The chart requires ingest.endpoint; the plain manifests carry this
# placeholder, which the operator replaces before applying them.
PLAIN_ENDPOINT = "https://ingest.example.com:4318"
NAMESPACE = "neurallog-system"

# Helm's install order (pkg/release/util/kind_sorter.go), for the kinds the
# chart has; other kinds go last, by name.
KIND_ORDER = [
    "Namespace",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
]

# Labels only Helm should set: a release installed with kubectl is not
# managed by Helm.
HELM_ONLY_LABELS = ("helm.sh/chart:", "app.kubernetes.io/managed-by:")

PLAIN_HEADER = f"""\
# Generated from packaging/helm/neurallog-agent by `packaging/helm/render.py
# generate` (the chart's default values, release neurallog-agent in namespace
# neurallog-system). Do not edit: change the chart and generate again.
#
# Before applying: replace the placeholder ingest endpoint
# {PLAIN_ENDPOINT} (NEURALLOG_INGEST_ENDPOINT below) with your ingest's.
#
# Apply packaging/kubernetes/namespace.yaml first; see packaging/README.md.
"""


def deep_merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def kind_of(manifest):
    for line in manifest.splitlines():
        if line.startswith("kind:"):
            return line.split(":", 1)[1].strip()
    return ""


def render(values, release=RELEASE, namespace=NAMESPACE):
    """The rendered manifests as (template path, text) in install order."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        kind = kind_of(text)
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        docs.append((rank, path, text))
    docs.sort()
    return [(path, text) for _, path, text in docs]


def stream(docs):
    out = []
    for path, text in docs:
        out.append(f"---\n# Source: {path}\n{text.strip()}\n")
    return "".join(out)


def plain_manifests():
    docs = render({"ingest": {"endpoint": PLAIN_ENDPOINT}})
    text = stream(docs)
    # Helm indents the blank lines of the configuration too; the trailing
    # spaces mean nothing to YAML and are dropped.
    kept = [
        line.rstrip() + "\n" for line in text.splitlines()
        if not line.strip().startswith(HELM_ONLY_LABELS)
    ]
    return PLAIN_HEADER + "".join(kept)


def cmd_template(args):
    values = {}
    for file in args.values:
        values = deep_merge(values, helm.values_from_yaml(pathlib.Path(file).read_text()))
    for expression in args.set:
        values = deep_merge(values, helm.parse_set_string(expression))
    sys.stdout.write(stream(render(values, args.release, args.namespace)))
    return 0


def cmd_generate(args):
    wanted = {
        CHART_CONFIG: EXAMPLE_CONFIG.read_text(),
    }
    # The chart reads its configuration from files/agent.yaml: refresh it
    # before rendering the plain manifests from the chart.
    if not args.check:
        CHART_CONFIG.parent.mkdir(parents=True, exist_ok=True)
        CHART_CONFIG.write_text(wanted[CHART_CONFIG])
    wanted[PLAIN] = plain_manifests()
    stale = 0
    for path, text in wanted.items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            rel = path.relative_to(REPO)
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True),
                f"{rel} (committed)", f"{rel} (generated)"))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print(f"{stale} generated file(s) out of date: run packaging/helm/render.py generate",
              file=sys.stderr)
        return 1
    return 0


def cmd_lint(_args):
    report = helm.lint(CHART, namespace=NAMESPACE, strict=True)
    for message in report["messages"]:
        print(f"severity {message['severity']}: {message['path']}: {message['error']}")
    for error in report["errors"]:
        print(f"error: {error}")
    failed = report["errors"] or any(m["severity"] >= 2 for m in report["messages"])
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    template = sub.add_parser("template", help="render the chart")
    template.add_argument("--set", action="append", default=[], metavar="K=V")
    template.add_argument("--values", "-f", action="append", default=[], metavar="FILE")
    template.add_argument("--release", default=RELEASE)
    template.add_argument("--namespace", "-n", default=NAMESPACE)
    template.set_defaults(run=cmd_template)
    generate = sub.add_parser("generate", help="write the generated files")
    generate.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    generate.set_defaults(run=cmd_generate)
    sub.add_parser("lint", help="helm lint --strict").set_defaults(run=cmd_lint)
    args = parser.parse_args()
    try:
        return args.run(args)
    except helm.HelmError as error:
        print(f"render.py {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
