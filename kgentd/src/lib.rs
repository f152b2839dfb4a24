//! kgentd: the kgent daemon as a library, so tests and benchmarks drive the same code the binary
//! runs.
//!
//! Data flows one way: a request enters [`api`], [`authz`] admits it, [`agent`] grounds it with
//! [`host`] and [`knowledge`], asks [`llm`], hands each candidate to [`check`], and returns a
//! verdict with evidence; [`exec`] runs what the caller approves. [`store`] keeps every request
//! and its transcript. No module reaches "up".
pub mod agent;
pub mod api;
pub mod authz;
pub mod bench;
pub mod bench_output;
pub mod check;
pub mod config;
pub mod daemon;
pub mod error;
pub mod exec;
pub mod host;
pub mod knowledge;
pub mod llm;
#[cfg(test)]
mod no_panic;
pub mod query;
pub mod specs_db;
pub mod store;
pub mod toolchain;

pub use kgent_proto::v1 as proto;
