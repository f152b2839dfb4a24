//! kgentd: the kgent daemon as a library, so tests and benchmarks drive the same code the binary
//! runs.
//!
//! Data flows one way: a request enters [`api`], [`authz`] admits it, [`agent`] grounds it with
//! [`host`] and [`knowledge`], asks [`llm`], hands each candidate to [`check`], and returns a
//! verdict with evidence; [`exec`] runs what the caller approves. [`store`] keeps every request
//! and its transcript; [`reuse`] answers a request already verified on this kernel build
//! without the model, after checking it again. [`daemon`] assembles the parts, measuring with [`features`] what this
//! kernel can load before anyone asks. [`metrics`] counts what they do for Prometheus.
//!
//! No module reaches "up": the references between these modules form no cycle
//! (`tests/module_graph.rs` checks). The binary's own commands (`bench`, `specs`, `query`) live
//! in `src/cmd/`, outside this library, and are the only users of `anyhow`.
pub mod agent;
pub mod api;
pub mod authz;
pub mod check;
pub mod config;
pub mod daemon;
pub mod error;
pub mod exec;
pub mod features;
pub mod host;
pub mod intent;
pub mod knowledge;
pub mod leftovers;
pub mod llm;
pub mod metrics;
#[cfg(test)]
mod no_panic;
pub mod policy;
pub mod process;
pub mod query;
pub mod reuse;
pub mod store;
pub mod symbolic;
pub mod toolchain;

pub use kgent_proto::v1 as proto;
