//! Bindings of the world `processor`, generated from the same copy of the
//! contract as [`super::bindings`]. The interfaces both worlds use (`types`,
//! `log`, `clock`) are taken from those bindings, so the imports exist once.
//! Only [`crate::export_processor!`] reaches this module.
#![allow(
    unsafe_code,
    reason = "generated canonical-ABI glue: raw pointers and extern functions are how a component calls its imports"
)]
#![allow(
    missing_docs,
    reason = "generated code; the WIT file carries the documentation"
)]
#![allow(unused_qualifications, reason = "generated code spells out full paths")]
#![allow(clippy::all, reason = "generated code")]

wit_bindgen::generate!({
    world: "processor",
    path: "wit",
    with: {
        "neurallog:plugin/types@0.1.1": crate::host::bindings::neurallog::plugin::types,
        "neurallog:plugin/log@0.1.1": crate::host::bindings::neurallog::plugin::log,
        "neurallog:plugin/clock@0.1.1": crate::host::bindings::neurallog::plugin::clock,
    },
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "neurallog_plugin_sdk::__private::processor_bindings",
    runtime_path: "neurallog_plugin_sdk::__private::wit_bindgen::rt",
});
