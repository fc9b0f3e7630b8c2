//! The route transform's configuration: named conditions.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, FieldPath, Validate};
use crate::transforms::filter::Condition;

use super::UNMATCHED;

/// Send log records to named outputs by condition. Components read an
/// output by naming `ROUTE_ID.ROUTE_NAME` (or `ROUTE_ID._unmatched`) in
/// their `inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The routes, by name (letters, digits, `_` and `-`): each a
    /// condition as in `filter` (`all`, `any`, `not`, or a test of one
    /// `field`). A record goes to every route it matches; one that matches
    /// none goes to `_unmatched`.
    pub routes: IndexMap<String, Condition>,
}

// === impl RouteConfig ===

impl RouteConfig {
    /// The transform's outputs, in the order records are sent to them:
    /// the routes, then `_unmatched`.
    pub fn outputs(&self) -> impl Iterator<Item = &str> {
        self.routes
            .keys()
            .map(String::as_str)
            .chain(std::iter::once(UNMATCHED))
    }
}

impl Validate for RouteConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        let routes = path.field("routes");
        if self.routes.is_empty() {
            errors.push(routes.error("is empty: expected at least one named condition"));
        }
        for (name, condition) in &self.routes {
            let path = routes.field(name);
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if name == UNMATCHED {
                errors.push(path.error(format!(
                    "`{UNMATCHED}` is the output of records no route matched: name the route otherwise"
                )));
            } else if !valid_name {
                errors.push(path.error(format!(
                    "`{name}` is not a valid route name: expected letters, digits, `_` or `-`"
                )));
            }
            condition.validate(&path, errors);
        }
    }
}
