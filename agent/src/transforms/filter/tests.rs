//! The filter's conditions over records, and its configuration errors.

use std::sync::Arc;

use super::*;
use crate::config::{FieldPath, Validate};
use crate::event::{Attributes, LogRecord, Resource};

fn filter(yaml: &str) -> Filter {
    let config: FilterConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    config.validate(&FieldPath::root(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    Filter::new(&config).unwrap()
}

fn errors(yaml: &str) -> Vec<String> {
    let config: FilterConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    config.validate(
        &FieldPath::root().field("transforms").field("f"),
        &mut errors,
    );
    errors
        .iter()
        .map(|e| format!("{}: {}", e.location, e.message))
        .collect()
}

fn access(status: i64, path: &str) -> Event {
    let shared = Arc::new(Attributes::new().with("log.file.path", "/var/log/apache2/access.log"));
    let resource = Arc::new(Resource::new(Attributes::new().with("host.name", "web-1")));
    let mut log = LogRecord::new(format!("GET {path} {status}"), shared, resource);
    log.attributes.insert("http.response.status_code", status);
    log.attributes.insert("url.path", path.to_owned());
    log.severity_number = if status >= 500 { 17 } else { 9 };
    log.severity_text = Some(if status >= 500 { "ERROR" } else { "INFO" }.into());
    Event::Log(log)
}

fn kept(filter: &mut Filter, events: Vec<Event>) -> Vec<String> {
    let mut events = events;
    filter.process(&mut events);
    events
        .iter()
        .map(|e| match e {
            Event::Log(log) => log.body.to_string(),
            _ => "other".to_owned(),
        })
        .collect()
}

fn sample() -> Vec<Event> {
    vec![
        access(200, "/"),
        access(404, "/missing"),
        access(503, "/api"),
        access(200, "/healthz"),
    ]
}

#[test]
fn numeric_comparison_on_an_attribute() {
    let mut f = filter("keep: { field: attributes.http.response.status_code, gt: 399 }");
    assert_eq!(kept(&mut f, sample()), ["GET /missing 404", "GET /api 503"]);
    let mut f = filter("keep: { field: attributes.http.response.status_code, lt: 300 }");
    assert_eq!(kept(&mut f, sample()), ["GET / 200", "GET /healthz 200"]);
}

#[test]
fn drop_by_regex_on_the_body() {
    let mut f = filter("drop: { field: body, regex: '/healthz' }");
    assert_eq!(
        kept(&mut f, sample()),
        ["GET / 200", "GET /missing 404", "GET /api 503"]
    );
}

#[test]
fn equality_reads_numbers_and_text_alike() {
    let mut f = filter("keep: { field: attributes.http.response.status_code, equals: 404 }");
    assert_eq!(kept(&mut f, sample()), ["GET /missing 404"]);
    let mut f = filter("keep: { field: severity_text, equals: ERROR }");
    assert_eq!(kept(&mut f, sample()), ["GET /api 503"]);
    let mut f = filter("keep: { field: resource.host.name, equals: web-2 }");
    assert!(kept(&mut f, sample()).is_empty());
}

#[test]
fn all_any_not_and_presence() {
    let mut f = filter(
        "
keep:
  all:
    - { field: attributes.log.file.path, exists: true }
    - not: { field: attributes.url.path, equals: /healthz }
    - any:
        - { field: severity, gt: 16 }
        - { field: attributes.url.path, regex: '^/missing' }
",
    );
    assert_eq!(kept(&mut f, sample()), ["GET /missing 404", "GET /api 503"]);
    let mut f = filter("keep: { field: attributes.user.name, exists: false }");
    assert_eq!(kept(&mut f, sample()).len(), 4);
    let mut f = filter("keep: { any: [] }");
    assert!(
        kept(&mut f, sample()).is_empty(),
        "an empty `any` never matches"
    );
}

#[test]
fn metrics_and_check_results_pass_untouched() {
    let mut f = filter("keep: { field: body, equals: nothing-matches }");
    let metric = crate::event::Metric::gauge("m", "1", 1.0, Arc::new(Resource::default()));
    assert_eq!(
        kept(&mut f, vec![access(200, "/"), metric.into()]),
        ["other"]
    );
}

#[test]
fn a_condition_must_say_one_thing() {
    let problems = errors("keep: { field: body, equals: a, regex: b }");
    assert_eq!(
        problems,
        [
            "transforms.f.keep: expected exactly one test of `body`: `equals`, `regex`, `gt`, `lt` or `exists`"
        ]
    );
    let problems = errors("keep: { all: [], field: body }");
    assert_eq!(
        problems,
        ["transforms.f.keep: expected exactly one of `all`, `any`, `not` and `field`"]
    );
    let problems = errors("keep: { all: [ { field: headers.x, exists: true } ] }");
    assert!(
        problems[0].starts_with("transforms.f.keep.all[0].field: `headers.x` is not a field"),
        "{problems:?}"
    );
    let problems = errors("drop: { not: { field: body, regex: '(' } }");
    assert!(
        problems[0].starts_with("transforms.f.drop.not.regex: \"(\" is not a valid regex"),
        "{problems:?}"
    );
    let problems = errors("{}");
    assert_eq!(
        problems,
        ["transforms.f: has neither `keep` nor `drop`: expected a condition in one of them"]
    );
    let problems =
        errors("{ keep: { field: body, exists: true }, drop: { field: body, exists: true } }");
    assert_eq!(
        problems,
        ["transforms.f.drop: is set beside `keep`: expected exactly one of `keep` and `drop`"]
    );
    let problems = errors("keep: { gt: 3 }");
    assert_eq!(problems.len(), 1, "{problems:?}");
}

/// A field is looked for first where it was found in the record before:
/// records listing their attributes in other orders, or without it, are
/// still read right.
#[test]
fn records_with_attributes_in_other_orders_are_read_right() {
    let mut f = filter("drop: { field: attributes.url.path, equals: /healthz }");
    let shuffled = |path: &str, before: usize| {
        let mut log = LogRecord::new(
            format!("{path} {before}"),
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        );
        for i in 0..before {
            log.attributes.insert(format!("a{i}"), i as i64);
        }
        log.attributes.insert("url.path", path.to_owned());
        Event::Log(log)
    };
    let events = vec![
        shuffled("/healthz", 3),
        shuffled("/", 3),
        shuffled("/healthz", 0),
        shuffled("/x", 5),
        Event::Log(LogRecord::new(
            "no path",
            Arc::new(Attributes::new()),
            Arc::new(Resource::default()),
        )),
        shuffled("/healthz", 5),
        shuffled("/y", 0),
    ];
    assert_eq!(kept(&mut f, events), ["/ 3", "/x 5", "no path", "/y 0"]);
}
