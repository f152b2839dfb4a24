//! Front ends of the tools that turn program text into kernel objects: bpftrace, and clang for
//! libbpf-style C.
//! Parses tool output into types; never substring-matches a verdict out of free text.
pub mod bpftrace;
pub mod clang;
pub mod grammar;
