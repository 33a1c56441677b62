//! The ingester's contract, with no Kubernetes in it: what `ducklake-ingester`
//! reads (its configuration) and what it serves (the `/status` document).
//! The ingester links this crate alone; `ducklake-crds` builds the custom
//! resource on it and the operator reads `/status` through it, so the three
//! cannot disagree on a key.
//!
//! * [`schema`]: the configuration types (serde + schemars), re-exported at
//!   the crate root.
//! * [`load`]: parsing YAML with environment expansion and validation whose
//!   errors name the offending key.
//! * [`status`]: the `/status` document.

pub mod load;
pub mod schema;
pub mod status;

pub use schema::*;
