//! The one place the loop dispatches on the kind of program asked for: which prompt, which
//! extraction, which deterministic repairs. The checks themselves are chosen in the loop.
use super::extract::{parse_reply, Reply};
use super::{prompt, repair, target_c};
use crate::host::HostFacts;
use crate::intent::Intent;
use crate::knowledge::Grounding;
use crate::proto;

/// Who wrote a candidate: kgent, compiling the model's query, or the model itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Written,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramTarget {
    Bpftrace,
    C,
}

impl ProgramTarget {
    /// The name the store and the job table use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bpftrace => "bpftrace",
            Self::C => "c",
        }
    }

    pub fn proto(self) -> proto::Target {
        match self {
            Self::Bpftrace => proto::Target::Bpftrace,
            Self::C => proto::Target::C,
        }
    }

    /// The code fence a candidate is quoted in when it goes back to the model.
    pub fn fenced(self, source: &str) -> String {
        format!("```{}\n{source}```", self.name())
    }

    pub fn system_prompt(self, host: &HostFacts) -> String {
        match self {
            Self::Bpftrace => prompt::system_prompt(host),
            Self::C => target_c::system_prompt(host),
        }
    }

    pub fn user_prompt(self, request: &str, grounding: &Grounding) -> String {
        match self {
            Self::Bpftrace => prompt::user_prompt(request, grounding),
            Self::C => target_c::user_prompt(request, grounding),
        }
    }

    pub fn repair_prompt(self, diagnostics: &str) -> String {
        match self {
            Self::Bpftrace => prompt::repair_prompt(diagnostics),
            Self::C => target_c::repair_prompt(diagnostics),
        }
    }

    pub fn repeat_prompt(self, diagnostics: &str) -> String {
        match self {
            Self::Bpftrace => prompt::repeat_prompt(diagnostics),
            Self::C => target_c::repeat_prompt(diagnostics),
        }
    }

    /// Asks a model that refused to check the catalog once more.
    pub fn reconsider_prompt(self) -> String {
        match self {
            Self::Bpftrace => prompt::reconsider_prompt(),
            Self::C => target_c::reconsider_prompt(),
        }
    }

    pub fn parse_reply(self, reply: &str) -> Reply {
        match self {
            Self::Bpftrace => parse_reply(reply),
            Self::C => target_c::parse_reply(reply),
        }
    }

    /// What to tell the model when its reply held no program.
    pub fn garbage(self) -> &'static str {
        match self {
            Self::Bpftrace => "the reply contained no bpftrace program (expected probe blocks like `tracepoint:syscalls:sys_enter_openat { ... }` in a ```bpftrace block)",
            Self::C => target_c::GARBAGE,
        }
    }

    /// Fixes with exactly one right answer, and one note per fix. What the model wrote is
    /// also held to the catalog's types and the request's filters (see `repair_written`).
    /// `provoked` (what the smoke workload's calls reach here, when measured) adds the entry
    /// points this host's calls go through (`repair::measured_entry_points`).
    pub fn repair(
        self,
        host: &HostFacts,
        intent: &Intent,
        source: &str,
        origin: Origin,
        provoked: Option<&crate::check::Provoked>,
    ) -> (String, Vec<String>) {
        let (source, mut notes) = match (self, origin) {
            (Self::Bpftrace, Origin::Compiled) => repair::repair_all(host, intent, source),
            (Self::Bpftrace, Origin::Written) => repair::repair_written(host, intent, source),
            (Self::C, _) => return target_c::repair(source),
        };
        let (source, measured) = repair::measured_entry_points(host, provoked, &source);
        notes.extend(measured);
        (source, notes)
    }
}
