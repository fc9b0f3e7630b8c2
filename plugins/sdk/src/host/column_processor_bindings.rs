//! Bindings of the world `column-processor`, generated from the same copy of the
//! contract as [`super::bindings`]. The interfaces it shares with the other
//! worlds (`types`, `log`, `clock`, `processing`) are taken from their
//! bindings, so the imports exist once. Only
//! [`crate::export_column_processor!`] reaches this module.
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
    world: "column-processor",
    path: "wit",
    with: {
        "neurallog:plugin/types@0.1.1": crate::host::bindings::neurallog::plugin::types,
        "neurallog:plugin/log@0.1.1": crate::host::bindings::neurallog::plugin::log,
        "neurallog:plugin/clock@0.1.1": crate::host::bindings::neurallog::plugin::clock,
        "neurallog:plugin/processing@0.1.1": crate::host::processor_bindings::neurallog::plugin::processing,
    },
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "neurallog_plugin_sdk::__private::column_processor_bindings",
    runtime_path: "neurallog_plugin_sdk::__private::wit_bindgen::rt",
});
