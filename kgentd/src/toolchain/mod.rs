//! Front ends of the tools that turn program text into kernel objects. Today: bpftrace.
//! Parses tool output into types; never substring-matches a verdict out of free text.
pub mod bpftrace;
pub mod grammar;
