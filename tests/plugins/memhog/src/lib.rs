//! Hostile: allocates 1 MiB chunks, touches them and keeps them, until the
//! allocator fails (and the guest aborts with "memory allocation failed").

wit_bindgen::generate!({ path: "../wit-0.1.0", world: "neurallog:plugin/check@0.1.0" });

struct Memhog;

impl Guest for Memhog {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "memhog".into(),
            version: "0.1.0".into(),
            description: "Grows memory without end.".into(),
            config_schema: String::new(),
        }
    }

    fn run(_config: String) -> Result<CheckResult, RunError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            for i in (0..chunk.len()).step_by(4096) {
                chunk[i] = 1;
            }
            hoard.push(std::hint::black_box(chunk));
        }
    }
}

export!(Memhog);
