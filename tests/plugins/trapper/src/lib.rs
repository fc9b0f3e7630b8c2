//! Hostile: panics. The panic message goes to stderr before the abort, so
//! the host must show it.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

struct Trapper;

impl Guest for Trapper {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "trapper".into(),
            version: "0.1.0".into(),
            description: "Panics on every run.".into(),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        panic!("trapper: deliberate panic, code 4711");
    }
}

export!(Trapper);
