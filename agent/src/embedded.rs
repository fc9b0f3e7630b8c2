//! First-party check plugins built into the binary.
//!
//! `build.rs` compiles the components in `plugins/` for `wasm32-wasip2` and
//! generates the table included below.

/// A check plugin shipped inside the agent.
#[derive(Debug, Clone, Copy)]
pub struct FirstPartyPlugin {
    /// The `type` a check names it by, e.g. `cert_expiry`.
    pub check_type: &'static str,
    /// The plugin's own name, e.g. `cert-expiry`.
    pub name: &'static str,
    /// The component.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));

/// The first-party plugin a check `type` names, if any.
pub fn find(check_type: &str) -> Option<&'static FirstPartyPlugin> {
    FIRST_PARTY.iter().find(|p| p.check_type == check_type)
}

/// The first-party plugin named `name` (its own name, e.g. `cert-expiry`).
pub fn by_name(name: &str) -> Option<&'static FirstPartyPlugin> {
    FIRST_PARTY.iter().find(|p| p.name == name)
}
