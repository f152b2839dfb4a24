//! Named values of tracepoint fields (`specs-db/values.toml`) that a request asks for in words:
//! "preempted" is `prev_state == TASK_RUNNING` at `sched:sched_switch`. A program on such a
//! tracepoint answering a request that speaks of the value must test the field against it.
use serde::Deserialize;

use crate::intent::Intent;

/// The shipped file.
pub const VALUES: &str = include_str!("../../../specs-db/values.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedValue {
    /// Tracepoint targets (`sched:sched_switch`) whose `field` holds the value.
    pub probes: Vec<String>,
    pub field: String,
    pub value: i64,
    /// The kernel's constant (`TASK_RUNNING`).
    pub name: String,
    /// Words of a request that ask for it (naming `name` itself, as C writes it, always does).
    #[serde(default)]
    pub words: Vec<String>,
    /// The event reports something other than its name with this value (a CPU leaving idle
    /// at `power:cpu_idle`): a program must keep it apart unless the request speaks of it.
    #[serde(default)]
    pub apart: bool,
    /// The bits of the field the value is kept in, where the call ORs flags into the others
    /// (socket(2) `type`: SOCK_TYPE_MASK 0xf beside SOCK_NONBLOCK and SOCK_CLOEXEC): the
    /// value is `(field & mask) == value`, and `field == value` misses the calls with a flag.
    #[serde(default)]
    pub mask: Option<i64>,
    pub source: String,
}

impl NamedValue {
    /// Whether the literal `n` is this value: as written, or as the negative number a
    /// 32-bit field's all-ones value is when the program casts it signed (`-1` for
    /// PWR_EVENT_EXIT's 4294967295).
    pub fn is(&self, n: i128) -> bool {
        let v = i128::from(self.value);
        n == v || (v > i128::from(i32::MAX) && v <= i128::from(u32::MAX) && n == v - (1 << 32))
    }

    /// Whether the request asks for this value: by one of its words, or by naming the
    /// constant as C writes it ("lseek() calls that use SEEK_END").
    pub fn asked_by(&self, intent: &Intent) -> bool {
        self.words.iter().any(|w| intent.uses_word(w)) || intent.constants.contains(&self.name)
    }
}

/// Every documented value (none when the file does not parse: a test says so).
pub fn shipped() -> &'static [NamedValue] {
    static FILE: std::sync::LazyLock<Vec<NamedValue>> =
        std::sync::LazyLock::new(|| super::specs_table::records(VALUES, "value"));
    &FILE
}

/// The values the request speaks of at the tracepoint `target` (`sched:sched_switch`).
pub fn asked_at<'a>(intent: &Intent, target: &str) -> Vec<&'a NamedValue> {
    shipped()
        .iter()
        .filter(|v| v.probes.iter().any(|p| p == target))
        .filter(|v| v.asked_by(intent))
        .collect()
}

/// The values with which `target` reports something else (`apart`) that the request does not
/// speak of: a program on `target` must test the field to leave them out.
pub fn apart_at<'a>(intent: &Intent, target: &str) -> Vec<&'a NamedValue> {
    shipped()
        .iter()
        .filter(|v| v.apart && v.probes.iter().any(|p| p == target))
        .filter(|v| !v.asked_by(intent))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_parses_and_names_its_source() {
        let values = shipped();
        assert!(values.len() >= 2, "{} values", values.len());
        for v in values {
            assert!(!v.name.is_empty() && !v.source.is_empty(), "{}", v.name);
        }
    }

    #[test]
    fn a_value_is_asked_for_in_words_of_its_meaning_at_its_event() {
        let preempted = Intent::read("which programs get preempted most often");
        assert_eq!(
            asked_at(&preempted, "sched:sched_switch")[0].name,
            "TASK_RUNNING"
        );
        assert!(asked_at(&preempted, "sched:sched_wakeup").is_empty());
        let any = Intent::read("which programs are switched out most often");
        assert!(asked_at(&any, "sched:sched_switch").is_empty());
        // The stop signals of signal(7), where signals are sent or delivered.
        let stopped = Intent::read("which jobs get suspended by a signal");
        let names: Vec<&str> = asked_at(&stopped, "signal:signal_deliver")
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"]);
        // unix(7): a UNIX socket is one made with domain AF_UNIX.
        let local = Intent::read("which daemons open unix sockets, and how many");
        assert_eq!(
            asked_at(&local, "syscalls:sys_enter_socket")[0].name,
            "AF_UNIX"
        );
        assert!(asked_at(&local, "sock:inet_sock_set_state").is_empty());
        assert!(asked_at(
            &Intent::read("print the totals when tracing is over"),
            "signal:signal_deliver"
        )
        .is_empty());
    }

    #[test]
    fn naming_the_constant_asks_for_its_value() {
        let names = |text: &str, target: &str| -> Vec<String> {
            asked_at(&Intent::read(text), target)
                .iter()
                .map(|v| v.name.clone())
                .collect()
        };
        // lseek(2) names its whence values only as constants.
        let holes = "log each lseek() given SEEK_DATA, with the descriptor";
        assert_eq!(names(holes, "syscalls:sys_enter_lseek"), ["SEEK_DATA"]);
        assert!(names(holes, "syscalls:sys_enter_read").is_empty());
        assert!(names("every lseek() with its offset", "syscalls:sys_enter_lseek").is_empty());
        // sigprocmask(2)'s `how`, in words or by name.
        let mask = "syscalls:sys_enter_rt_sigprocmask";
        assert_eq!(
            names("who unblocks signals via rt_sigprocmask", mask),
            ["SIG_UNBLOCK"]
        );
        assert_eq!(
            names("rt_sigprocmask calls with SIG_SETMASK", mask),
            ["SIG_SETMASK"]
        );
        assert!(names("rt_sigprocmask calls per process", mask).is_empty());
    }

    #[test]
    fn an_event_that_also_reports_something_else_is_kept_apart_unless_asked() {
        let naps = Intent::read("how often does each core go into a low-power state");
        let apart: Vec<&str> = apart_at(&naps, "power:cpu_idle")
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(apart, ["PWR_EVENT_EXIT"]);
        // Asking for the way out of idle asks for those events.
        let out = Intent::read("log when a core wakes from its low-power state");
        assert!(apart_at(&out, "power:cpu_idle").is_empty());
        assert!(apart_at(&naps, "sched:sched_switch").is_empty());
        // An ordinary value is never apart.
        assert!(shipped()
            .iter()
            .any(|v| v.name == "TASK_RUNNING" && !v.apart));
    }
}
