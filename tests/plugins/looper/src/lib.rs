//! Hostile: spins forever without calling the host. Only the epoch deadline
//! can stop it.

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

struct Looper;

impl Guest for Looper {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "looper".into(),
            version: "0.1.0".into(),
            description: "Loops forever.".into(),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export!(Looper);
