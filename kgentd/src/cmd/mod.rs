//! The kgentd binary's commands besides serving: `bench` (and `bench --output`, `bench --labels`), `specs`,
//! `query` and `intent`. They drive the library as a user or a benchmark would and print for people.
//!
//! Binary-only: the library (`kgentd`) never calls them and nothing here runs inside the daemon;
//! they own no mechanism the daemon needs. The only code using `anyhow`.
pub mod bench;
pub mod bench_labels;
pub mod bench_output;
pub mod intent;
pub mod query;
pub mod specs;
pub mod verify;
