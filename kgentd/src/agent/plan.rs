//! The plan step: before any code, a short constrained reply picks the attach points from the
//! grounded ones and says what to record. The first draft of the program is then constrained to
//! the planned probes (and the other half of a syscall's enter/exit pair); later drafts may use
//! every grounded probe again, so a wrong plan cannot trap the loop.
//!
//! Only for backends whose decoding a grammar really constrains: an unconstrained model would
//! answer the plan with anything.
use crate::toolchain::grammar::AllowedProbe;

pub const PLAN_INSTRUCTION: &str = "First, the plan only: list the probes above that the program needs, one per line as `- probe`, then `Record: ` and what the program records and prints.";
pub const AFTER_PLAN: &str =
    "Now write the program that follows this plan, in one ```bpftrace block.";

/// The probes a plan reply names, in order.
pub fn planned_probes(reply: &str) -> Vec<String> {
    reply
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The allowed probes narrowed to the plan, keeping the partner of every planned syscall
/// tracepoint (arguments on enter, the result on exit).
pub fn narrowed(allowed: &[AllowedProbe], planned: &[String]) -> Vec<AllowedProbe> {
    let partner = |name: &str| {
        name.replace("sys_enter_", "\u{0}")
            .replace("sys_exit_", "sys_enter_")
            .replace('\u{0}', "sys_exit_")
    };
    allowed
        .iter()
        .filter(|a| planned.iter().any(|p| *p == a.name || partner(p) == a.name))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_narrows_to_its_probes_and_their_syscall_partners() {
        let reply = "Probes:\n- tracepoint:syscalls:sys_enter_openat\nRecord: the path\n";
        let planned = planned_probes(reply);
        assert_eq!(planned, ["tracepoint:syscalls:sys_enter_openat"]);
        let allowed: Vec<AllowedProbe> = [
            "tracepoint:syscalls:sys_enter_openat",
            "tracepoint:syscalls:sys_exit_openat",
            "tracepoint:syscalls:sys_enter_open",
        ]
        .iter()
        .map(|n| AllowedProbe::tracepoint(*n, vec!["x".into()]))
        .collect();
        let names: Vec<String> = narrowed(&allowed, &planned)
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(
            names,
            [
                "tracepoint:syscalls:sys_enter_openat",
                "tracepoint:syscalls:sys_exit_openat"
            ]
        );
    }
}
