//! What `/metrics` serves: the agent's own registry plus sections other
//! components add (the `prometheus` sink's collected metrics).

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;

type Section = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Extra sections of the `/metrics` page, by owner.
#[derive(Default)]
pub struct Exposition {
    sections: Mutex<IndexMap<String, Section>>,
}

// === impl Exposition ===

impl Exposition {
    /// Add (or replace) `owner`'s section.
    pub fn register(&self, owner: &str, render: impl Fn(&mut String) + Send + Sync + 'static) {
        self.lock().insert(owner.to_owned(), Arc::new(render));
    }

    /// Remove `owner`'s section.
    pub fn unregister(&self, owner: &str) {
        self.lock().shift_remove(owner);
    }

    /// Append every section.
    pub fn render(&self, out: &mut String) {
        let sections: Vec<Section> = self.lock().values().cloned().collect();
        for render in sections {
            render(out);
        }
    }

    fn lock(&self) -> MutexGuard<'_, IndexMap<String, Section>> {
        crate::sync::lock(&self.sections)
    }
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("sections", &self.lock().keys().cloned().collect::<Vec<_>>())
            .finish()
    }
}
