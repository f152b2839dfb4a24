//! Whether the request states a filter test: the one notion of "stated" that both the query
//! step (`query_repair::prune_filter`) and free-form drafts (`draft_filters`) apply, each
//! describing its test as a [`Test`]. A small model adds tests of its own (`comm != "kworker"`,
//! `args->result != 0`) that silently hide the events asked for; a test stays only when the
//! request states it.
//!
//! This module reads the request only through its [`Intent`] and knows no program syntax: the
//! callers say what a test compares.
use crate::intent::{Concept, Intent};

/// A comparison, with the literal on the right (`0 < x` is read as `x > 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Cmp {
    /// The same comparison with its operands swapped (`0 < x` is `x > 0`).
    pub fn swapped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Gt => Cmp::Lt,
            Cmp::Le => Cmp::Ge,
            Cmp::Ge => Cmp::Le,
            other => other,
        }
    }
}

/// What a value compared with 0 is, as far as the caller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A call's or an event's outcome: a syscall's `ret`, a probe's `retval`, a field named
    /// like one (see [`is_result_name`]). 0 is success, a negative errno a failure.
    Result,
    /// The exit status of a process.
    ExitCode,
    /// The signal that ended a process (0: none).
    ExitSignal,
    /// An address: a pointer, or an integer wide enough to hold one.
    Pointer,
    /// An integer too narrow to be an address, or a builtin such as `pid`.
    Integer,
    /// The caller does not know the type.
    Unknown,
}

/// What the test is, beyond its literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value compared with the literal 0.
    Zero(Value, Cmp),
    /// A string compared for equality or a prefix.
    StringMatch,
    /// A string compared for inequality (`comm != "bash"`): what it names is left out.
    StringExcluded,
    /// A number compared for (in)equality with a value the kernel prints by name
    /// (`newstate == 1` is `TCP_ESTABLISHED`).
    NamedValue,
    /// A value compared with a non-zero number (`exit_code != 127`, `args->count > 4096`):
    /// the number is a choice the request must state, even when it names the value.
    Compared(Cmp),
    /// A bit test of a documented flag (`args->flags & O_CREAT`, `specs-db/flags.toml`);
    /// `asked`: the request speaks of what the flag means.
    Flag { asked: bool },
    /// Anything else.
    Other,
}

/// A filter test as the callers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test<'a> {
    /// The `args` fields it reads.
    pub fields: Vec<&'a str>,
    /// The integer literals in it.
    pub ints: Vec<i128>,
    /// The string literals in it.
    pub strings: Vec<&'a str>,
    pub shape: Shape,
}

/// Why a test is not stated, in words for the transcript and the model.
pub fn why_unstated(test: &Test) -> &'static str {
    match test.shape {
        Shape::Zero(Value::Result | Value::ExitCode, _) => {
            "the request does not ask for failures only"
        }
        Shape::Flag { .. } => "the request does not speak of what that flag means",
        Shape::StringExcluded => {
            "the request states no such value to leave out, or watches the very process it names"
        }
        _ => "the request states no such value",
    }
}

/// Whether the request states `test`. Stated are:
/// - a string compared for (in)equality when the request quotes it (`'cron'`), names it as the
///   process to watch, or writes it verbatim when it is a path (`/etc/hosts`): "run shell
///   commands" does not state `command == "shell"`;
/// - a test of another shape (a bit test, a comparison of two values) whose field the request
///   names (`mode` in "the new mode"). Naming a value to show states no value to hide: "the
///   exit code" does not state `exit_code != 127`, "the old and new UID" not `uid != 0`;
/// - a test whose every literal the request states: numbers with their units (`64 MiB`,
///   `10 ms`), or any number when the request names a C constant (`SIGKILL` may be 9);
/// - a result compared with 0: success (`ret >= 0`, `> 0`, `== 0`) when the request keeps one
///   outcome or measures the result (sizes, bytes, sums, thresholds), failure
///   (`ret < 0`, `!= 0`, `<= 0`) when the request asks for failures or errors (non-zero exits
///   for an exit status); the kernel returns 0 or a count on success and a negative errno on
///   failure (syscalls(2), errno(3)). `exit_signal` compared with 0 always;
/// - a number compared with a value the kernel names (`args->newstate == 1`): the request
///   may name it in words ("established"), and kgent has no table to tell;
/// - an address compared with 0 (a NULL check is structure, not a choice), and `x != 0`,
///   `x > 0` when the caller does not know what `x` is. An integer known to be one (`pid`, an
///   `int` field: `args->len != 0`) is a real filter and must be stated;
/// - a bit test of a documented flag (`specs-db/flags.toml`) when the request speaks of what
///   the flag means or states its value; naming the field is not enough;
/// - CLONE_THREAD (0x10000) when the request asks for new threads: only that flag tells a
///   thread from a process (clone(2));
/// - a field compared with a value of `specs-db/values.toml` the request speaks of in words
///   ("preempted" states `prev_state == 0`), or with a value by which the event reports
///   something else (`apart`: `state != PWR_EVENT_EXIT` at `power:cpu_idle` keeps entries).
///
/// `params` are the man-page names of the test's fields, where the caller knows them (`advice`
/// for madvise's `behavior`: [`crate::knowledge::syscall_man::SyscallMan::man_names`]): a
/// constant a man page lists as one parameter's value (`PROT_NONE` of mprotect(2)'s `prot`)
/// states its number of that parameter only, not of `start`.
pub fn stated(test: &Test, intent: &Intent, params: &[String]) -> bool {
    if named_value(test, intent) {
        return true;
    }
    // A value written after the field's name ("switches to uid 0") states the field equals
    // it: `args->uid != 0` keeps every other call.
    let ne = matches!(
        test.shape,
        Shape::Zero(_, Cmp::Ne) | Shape::Compared(Cmp::Ne)
    );
    let pinned = |f: &&str| {
        let values = crate::intent::naming::values_stated_for(intent, f);
        test.ints.iter().any(|n| values.contains(n))
            || (matches!(test.shape, Shape::Zero(..)) && values.contains(&0))
    };
    if ne && test.fields.iter().any(pinned) {
        return false;
    }
    match test.shape {
        Shape::StringMatch => return test.strings.iter().all(|s| string_stated(s, intent)),
        // Leaving out the process the request watches ("processes named kgtest-spin") keeps
        // everything else: stated only where the request sets that name apart ("except").
        Shape::StringExcluded => {
            let set_apart = |s: &str| {
                s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|p| !p.is_empty())
                    .all(|p| intent.set_apart.iter().any(|w| w.eq_ignore_ascii_case(p)))
            };
            let watched = |s: &str| intent.process_name.as_deref() == Some(s) && !set_apart(s);
            return test
                .strings
                .iter()
                .all(|s| string_stated(s, intent) && !watched(s));
        }
        // An address family test (AF_INET 2, AF_INET6 10: ip(7), ipv6(7)) where the request
        // asks for both families keeps half of what it asks for.
        Shape::NamedValue => {
            return !(both_families(intent) && test.fields.iter().any(|f| f.contains("family")))
        }
        // Naming the field ("the flags", "the mode") does not ask for one of its bits.
        Shape::Flag { asked } => return asked || literals_stated(test, intent, params),
        _ => {}
    }
    let named = matches!(test.shape, Shape::Other)
        && test
            .fields
            .iter()
            .any(|f| f.len() >= 3 && intent.names_word(&f.to_ascii_lowercase()));
    let zero = match test.shape {
        Shape::Zero(value, cmp) => {
            zero_stated(value, cmp, intent)
                || zero_of_named_field(test, cmp, intent)
                // Written after the field's name: "switches to uid 0".
                || (cmp == Cmp::Eq
                    && test.fields.iter().any(|f| {
                        crate::intent::naming::values_stated_for(intent, f).contains(&0)
                    }))
        }
        _ => false,
    };
    named || zero || literals_stated(test, intent, params)
}

/// A field compared with a value `specs-db/values.toml` documents, which the request speaks of
/// ("preempted": `prev_state == 0`).
fn named_value(test: &Test, intent: &Intent) -> bool {
    crate::knowledge::values::shipped().iter().any(|v| {
        test.fields.contains(&v.field.as_str())
            && test.ints.iter().any(|n| v.is(*n))
            && (v.apart || v.asked_by(intent))
    })
}

/// The request names IPv4 and IPv6 both ("over IPv4 or IPv6", "v4 and v6 alike").
fn both_families(intent: &Intent) -> bool {
    let v4 = ["ipv4", "v4", "inet4", "ip4"]
        .iter()
        .any(|w| intent.names_word(w));
    v4 && intent.asks(Concept::Ipv6)
}

fn zero_stated(value: Value, cmp: Cmp, intent: &Intent) -> bool {
    // The sign said in words: "a negative nice value" states `< 0`, "a positive offset" `> 0`;
    // of a call's result, "returns zero" states `== 0` and "a non-zero result" `!= 0`.
    let said = |w: &str| intent.names_word(w);
    let sign = match cmp {
        Cmp::Lt | Cmp::Le => said("negative"),
        Cmp::Gt => said("positive"),
        Cmp::Eq => value == Value::Result && said("zero") && !said("non"),
        Cmp::Ne => value == Value::Result && (said("nonzero") || said("non")),
        _ => false,
    };
    if sign {
        return true;
    }
    let failure = matches!(cmp, Cmp::Lt | Cmp::Le | Cmp::Ne);
    match value {
        // Success (`ret >= 0`, `== 0`) where the request keeps one outcome or measures the
        // result (`symbolic::contract::may_filter_by_result`): "every personality() call"
        // states no `ret == 0` (and personality(2) returns the previous persona anyway).
        Value::Result if !failure => crate::symbolic::contract::may_filter_by_result(intent),
        Value::Result => intent.asks(Concept::Failure),
        Value::ExitCode => {
            !failure || intent.asks(Concept::Failure) || intent.asks(Concept::NonZeroExit)
        }
        Value::ExitSignal | Value::Pointer => true,
        Value::Unknown => matches!(cmp, Cmp::Ne | Cmp::Gt),
        Value::Integer => false,
    }
}

/// "Zero" said of a value the request names ("cut to zero length", "a size of zero") states
/// `field == 0` of the field of that name (truncate(2)'s `length`); "non-zero" said right
/// before it ("a non-zero pid") states `field != 0`.
fn zero_of_named_field(test: &Test, cmp: Cmp, intent: &Intent) -> bool {
    if cmp == Cmp::Ne {
        let w = &intent.words;
        return (0..w.len()).any(|i| {
            let non_zero = w[i] == "nonzero" || (w[i] == "zero" && i > 0 && w[i - 1] == "non");
            non_zero
                && w.iter().skip(i + 1).take(2).any(|next| {
                    test.fields
                        .iter()
                        .any(|f| f.len() >= 3 && f.eq_ignore_ascii_case(next))
                })
        });
    }
    // "Returns zero events" (epoll_wait(2): the number of ready descriptors) is the result,
    // not a field named `events`: zero said right after a returning verb.
    let returned = {
        let w = &intent.words;
        (1..w.len()).any(|i| {
            w[i] == "zero"
                && matches!(
                    w[i - 1].as_str(),
                    "return" | "returns" | "returned" | "returning"
                )
        })
    };
    cmp == Cmp::Eq
        && !returned
        && intent.names_word("zero")
        && !intent.names_word("non")
        && !intent.names_word("nonzero")
        && test
            .fields
            .iter()
            .any(|f| f.len() >= 3 && intent.names_word(&f.to_ascii_lowercase()))
}

fn literals_stated(test: &Test, intent: &Intent, params: &[String]) -> bool {
    test.ints
        .iter()
        .all(|n| int_stated(*n, intent, &test.fields, params))
        && test.strings.iter().all(|s| string_stated(s, intent))
}

/// CLONE_THREAD (clone(2)): the flag that makes a new task a thread.
const CLONE_THREAD: i128 = 0x10000;

/// A number the request states: written, negated, CLONE_THREAD for new threads, or the value
/// (or its negation: a failed call's -errno) of a constant it names, compared with what that
/// constant is a value of: an error number with a result (`ret`, `err`), a signal number with
/// a signal field (`sig`): "EACCES" does not state `args->id == 13`. Any number when the
/// request names a constant whose value neither the vocabulary, `specs-db/` nor the host's
/// headers know.
fn int_stated(n: i128, intent: &Intent, fields: &[&str], params: &[String]) -> bool {
    let errnos: Vec<&str> = intent
        .errnos()
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let of_kind = |name: &str| {
        if errnos.contains(&name) {
            fields.iter().all(|f| is_result_name(f))
        } else if name.starts_with("SIG") && !name.starts_with("SIG_") {
            // A signal (SIGKILL), not sigprocmask(2)'s SIG_BLOCK.
            fields.iter().all(|f| f.contains("sig"))
        } else {
            // A constant of a call's man page is a value of one of its arguments, not of a
            // builtin: FUTEX_WAIT (0) does not state `uid == 0`. Where the page lists it as
            // one parameter's value, of that parameter only (PROT_NONE is `prot == 0`, not
            // `start == 0`).
            let listed = crate::knowledge::syscall_man::SyscallMan::shipped().params_listing(name);
            if listed.is_empty() {
                !fields.is_empty()
            } else {
                fields.iter().any(|f| listed.contains(f))
                    || params.iter().any(|p| listed.contains(&p.as_str()))
            }
        }
    };
    // The number of a size written with its unit ("1 MiB") states a size, not the same
    // number of a field that holds none: "writes of more than 1 MiB" states no `fd != 1`.
    let size_only = !fields.is_empty()
        && intent
            .sizes
            .iter()
            .any(|s| s.len() > 1 && s.first() == Some(&n) && s.iter().skip(1).all(|m| *m != n))
        && !fields.iter().any(|f| {
            crate::knowledge::field_names::family_of(f).is_some_and(|k| k.kind == "size or length")
        })
        && !fields
            .iter()
            .any(|f| crate::intent::naming::values_stated_for(intent, f).contains(&n));
    // A number written as a builtin's value ("made by PID 1") states that value, not the same
    // number of a field the test reads (`args->id == 1`, the syscall numbered 1).
    const BUILTINS: [&str; 4] = ["pid", "tid", "uid", "gid"];
    let of_builtin = !fields.is_empty()
        && BUILTINS.iter().any(|b| {
            !fields.contains(b) && crate::intent::naming::values_stated_for(intent, b).contains(&n)
        })
        && !fields
            .iter()
            .any(|f| crate::intent::naming::values_stated_for(intent, f).contains(&n));
    (intent.numbers.contains(&n) && !size_only && !of_builtin)
        || (n == CLONE_THREAD && intent.asks(Concept::NewThreads))
        || n.checked_neg().is_some_and(|m| intent.numbers.contains(&m))
        || intent.constant_values().iter().any(|(name, value)| {
            match value.or_else(|| crate::knowledge::constant_value(name)) {
                Some(v) => (i128::from(v) == n || i128::from(v) == -n) && of_kind(name),
                None => of_kind(name),
            }
        })
}

fn string_stated(s: &str, intent: &Intent) -> bool {
    let path = s.contains('/') && intent.names_word(&s.to_ascii_lowercase());
    // A directory the request keeps paths under, with or without its final slash.
    let directory = intent
        .directories
        .iter()
        .any(|d| d.trim_end_matches('/') == s.trim_end_matches('/'));
    intent.quotes(s) || intent.process_name.as_deref() == Some(s) || path || directory
}

/// Field names that hold an outcome by kernel convention: `ret`, `retval`, `result`, `err`,
/// `error`, `errno` (Documentation/process/coding-style.rst, "Function return values and
/// names": 0 on success, a negative errno on failure).
pub fn is_result_name(name: &str) -> bool {
    matches!(
        name,
        "ret" | "retval" | "result" | "err" | "error" | "errno"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::stated`] where no man-page names are known.
    fn stated(test: &Test, intent: &Intent) -> bool {
        super::stated(test, intent, &[])
    }

    fn zero<'a>(field: &'a str, value: Value, cmp: Cmp) -> Test<'a> {
        Test {
            fields: vec![field],
            ints: vec![0],
            strings: vec![],
            shape: Shape::Zero(value, cmp),
        }
    }

    fn string(s: &str) -> Test<'_> {
        Test {
            fields: vec![],
            ints: vec![],
            strings: vec![s],
            shape: Shape::StringMatch,
        }
    }

    /// `field OP n`, compared with a number.
    fn test(field: &str, n: i128) -> Test<'_> {
        Test {
            fields: vec![field],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Other,
        }
    }

    #[test]
    fn a_documented_constant_states_its_own_value_only() {
        let intent = Intent::read("who opens SOCK_SEQPACKET sockets");
        assert!(stated(&test("type", 5), &intent));
        assert!(!stated(&test("protocol", 17), &intent));
        // A constant kgent has no value for may be any number.
        let unknown = Intent::read("who opens sockets with SO_FOOBAR_BAZ");
        assert!(stated(&test("protocol", 17), &unknown));
    }

    #[test]
    fn a_constant_of_the_hosts_headers_states_its_value_only() {
        // POSIX_FADV_WILLNEED is 3 in <fcntl.h> (posix_fadvise(2)): not any number.
        let intent = Intent::read("who prefetches files with POSIX_FADV_WILLNEED");
        assert!(stated(&test("advice", 3), &intent));
        assert!(!stated(&test("advice", 2048), &intent));
        assert!(!stated(&test("len", 0), &intent));
        // Of a builtin (`uid == 0`: no field), not even a constant whose value is 0.
        let builtin = Test {
            fields: vec![],
            ints: vec![0],
            strings: vec![],
            shape: Shape::Zero(Value::Integer, Cmp::Eq),
        };
        assert!(!stated(
            &builtin,
            &Intent::read("futex calls with FUTEX_WAIT")
        ));
        assert!(!stated(&builtin, &Intent::read("calls with SO_FOOBAR_BAZ")));
    }

    #[test]
    fn a_family_test_is_unstated_where_both_families_are_asked() {
        let family = Test {
            fields: vec!["family"],
            ints: vec![10],
            strings: vec![],
            shape: Shape::NamedValue,
        };
        assert!(stated(&family, &Intent::read("tcp resets seen over ipv6")));
        assert!(!stated(
            &family,
            &Intent::read("tcp resets seen over ipv4 and ipv6 alike")
        ));
    }

    #[test]
    fn a_named_value_compared_with_a_number_needs_the_number_stated() {
        let intent = Intent::read("list the exit status of every process that ends");
        let compared = |n| Test {
            fields: vec!["status"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Compared(Cmp::Ne),
        };
        assert!(!stated(&compared(127), &intent));
        assert!(stated(
            &compared(127),
            &Intent::read("exit statuses other than 127")
        ));
        // A bit test of a named field is still the request's: "the mode" picks its bits.
        let bits = Test {
            shape: Shape::Other,
            ..compared(2)
        };
        assert!(stated(
            &bits,
            &Intent::read("chmods with their new status bits")
        ));
    }

    #[test]
    fn a_named_value_spoken_of_is_stated() {
        let running = zero("prev_state", Value::Integer, Cmp::Eq);
        assert!(stated(
            &running,
            &Intent::read("how often is each task preempted")
        ));
        assert!(!stated(
            &running,
            &Intent::read("how often is each task switched out")
        ));
    }

    #[test]
    fn leaving_out_what_an_event_also_reports_is_stated() {
        let exits = |n| Test {
            fields: vec!["state"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Compared(Cmp::Ne),
        };
        let intent = Intent::read("tally low-power entries of every core");
        assert!(stated(&exits(4_294_967_295), &intent));
        assert!(stated(&exits(-1), &intent));
        assert!(!stated(&exits(3), &intent));
    }

    #[test]
    fn the_thread_flag_is_stated_by_asking_for_threads() {
        let flag = Test {
            fields: vec!["clone_flags"],
            ints: vec![0x10000],
            strings: vec![],
            shape: Shape::Other,
        };
        assert!(stated(&flag, &Intent::read("new threads per process")));
        assert!(!stated(&flag, &Intent::read("new processes per parent")));
    }

    #[test]
    fn failures_are_stated_only_when_asked_for() {
        let plain = Intent::read("show each mount with its return value");
        let failed = Intent::read("mounts that failed, with the error");
        for cmp in [Cmp::Lt, Cmp::Ne, Cmp::Le] {
            let t = zero("result", Value::Result, cmp);
            assert!(!stated(&t, &plain), "{cmp:?}");
            assert!(stated(&t, &failed), "{cmp:?}");
        }
        // Success only where the request keeps one outcome or measures the result.
        let success = zero("ret", Value::Result, Cmp::Ge);
        assert!(!stated(&success, &plain));
        assert!(stated(&success, &Intent::read("mounts that succeed")));
        assert!(stated(&success, &Intent::read("bytes each process reads")));
        // errno(3) names EAGAIN 11: a request naming it states -11 at a result, not -1001.
        let again = Intent::read("calls that return EAGAIN");
        let errno = |n: i128| Test {
            fields: vec!["ret"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Other,
        };
        assert!(stated(&errno(-11), &again));
        assert!(!stated(&errno(-1001), &again));
        let exit = zero("code", Value::ExitCode, Cmp::Ne);
        assert!(stated(
            &exit,
            &Intent::read("jobs that end with a non-zero status")
        ));
        assert!(!stated(&exit, &Intent::read("jobs that end")));
    }

    #[test]
    fn zero_tests_follow_what_the_value_is() {
        let any = Intent::read("trace the calls");
        assert!(stated(&zero("buf", Value::Pointer, Cmp::Ne), &any));
        assert!(stated(&zero("buf", Value::Pointer, Cmp::Eq), &any));
        assert!(stated(&zero("x", Value::Unknown, Cmp::Gt), &any));
        assert!(!stated(&zero("x", Value::Unknown, Cmp::Eq), &any));
        assert!(!stated(&zero("cpu_id", Value::Integer, Cmp::Ne), &any));
        // Naming the value asks to show it, not to hide its zeros (root's uid is 0).
        assert!(!stated(
            &zero("cpu_id", Value::Integer, Cmp::Ne),
            &Intent::read("trace the calls and the cpu_id")
        ));
        assert!(!stated(
            &zero("uid", Value::Integer, Cmp::Ne),
            &Intent::read("processes that change their UID, with the new user ID")
        ));
    }

    #[test]
    fn a_sign_said_in_words_states_its_comparison_with_zero() {
        let negative = Intent::read("ioprio_set() calls given a negative priority class");
        assert!(stated(&zero("ioprio", Value::Integer, Cmp::Lt), &negative));
        assert!(!stated(&zero("ioprio", Value::Integer, Cmp::Gt), &negative));
        let zero_read = Intent::read("pread64() calls that return zero, per program");
        assert!(stated(&zero("ret", Value::Result, Cmp::Eq), &zero_read));
        // Zero said of a result states nothing of another value.
        assert!(!stated(&zero("count", Value::Integer, Cmp::Eq), &zero_read));
        let nonzero = Intent::read("pread64() calls with a non-zero result");
        assert!(stated(&zero("ret", Value::Result, Cmp::Ne), &nonzero));
        assert!(!stated(&zero("ret", Value::Result, Cmp::Eq), &nonzero));
        // Zero said of a named value states it of the field of that name only.
        let emptied = Intent::read("ftruncate() calls that shrink a file to a size of zero");
        assert!(stated(&zero("size", Value::Integer, Cmp::Eq), &emptied));
        assert!(!stated(&zero("size", Value::Integer, Cmp::Ne), &emptied));
        assert!(!stated(&zero("fd", Value::Integer, Cmp::Eq), &emptied));
        // "Non-zero" said of a named value states `!= 0` of that field only.
        let others = Intent::read("setpriority calls aimed at a non-zero who, with the value");
        assert!(stated(&zero("who", Value::Integer, Cmp::Ne), &others));
        assert!(!stated(&zero("who", Value::Integer, Cmp::Eq), &others));
        assert!(!stated(&zero("niceval", Value::Integer, Cmp::Ne), &others));
        let status = Intent::read("exits with a non-zero status, and the pid");
        assert!(!stated(&zero("pid", Value::Integer, Cmp::Ne), &status));
        // Zero a call returns is its result: "returns zero entries" states no `entries == 0`.
        let none = Intent::read("io_getevents calls that returned zero entries");
        assert!(!stated(&zero("entries", Value::Integer, Cmp::Eq), &none));
        // Zero written after the field's name states `== 0` of that field only.
        let to_root = Intent::read("setfsuid calls that make fsuid 0, with the caller");
        assert!(stated(&zero("fsuid", Value::Integer, Cmp::Eq), &to_root));
        assert!(!stated(&zero("fsuid", Value::Integer, Cmp::Ne), &to_root));
    }

    #[test]
    fn a_constant_a_man_page_lists_for_a_parameter_states_that_parameter_only() {
        // mprotect(2) lists PROT_NONE (0) among the values of `prot`.
        let sealed = Intent::read("who seals memory off with mprotect and PROT_NONE?");
        assert!(stated(&zero("prot", Value::Integer, Cmp::Eq), &sealed));
        assert!(!stated(&zero("start", Value::Integer, Cmp::Eq), &sealed));
        // madvise(2) lists MADV_DONTNEED (4) for `advice`, which the kernel calls `behavior`.
        let freed = Intent::read("count MADV_DONTNEED advice given, by program");
        let four = |f| Test {
            fields: vec![f],
            ints: vec![4],
            strings: vec![],
            shape: Shape::Compared(Cmp::Eq),
        };
        assert!(super::stated(
            &four("behavior"),
            &freed,
            &["advice".to_owned()]
        ));
        assert!(!super::stated(&four("len_in"), &freed, &["len".to_owned()]));
        // sigprocmask(2)'s SIG_BLOCK is no signal: it states `how == 0`.
        let blocks = Intent::read("rt_sigprocmask calls passing SIG_BLOCK");
        assert!(stated(&zero("how", Value::Integer, Cmp::Eq), &blocks));
    }

    #[test]
    fn strings_must_be_quoted_named_or_a_path_written_out() {
        let quoted = Intent::read("wakeups of the process named 'redis-srv'");
        assert!(stated(&string("redis-srv"), &quoted));
        assert!(!stated(&string("redis"), &quoted));
        let path = Intent::read("who reads /etc/hostname");
        assert!(stated(&string("/etc/hostname"), &path));
        let word = Intent::read("which interrupts fire on the timer");
        assert!(!stated(&string("timer"), &word), "a word is not a value");
    }

    #[test]
    fn numbers_with_units_and_constants() {
        let t = |n| Test {
            fields: vec!["delay"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Other,
        };
        let ms = Intent::read("waits longer than 15 ms");
        assert!(stated(&t(15_000_000), &ms));
        assert!(stated(&t(15_000), &ms));
        assert!(!stated(&t(16), &ms));
        let signal = Intent::read("tasks that receive SIGSEGV");
        let sig = |n| Test {
            fields: vec!["sig"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Other,
        };
        assert!(stated(&sig(11), &signal));
        // A constant whose value is known states that value only, of its own kind of field.
        assert!(!stated(&sig(222), &signal));
        assert!(!stated(&t(11), &signal));
        let errno = Intent::read("unlinks failing with EACCES");
        assert!(!stated(&t(-13), &errno), "delay is no result");
        let ret = |n| Test {
            fields: vec!["ret"],
            ints: vec![n],
            strings: vec![],
            shape: Shape::Other,
        };
        assert!(stated(&ret(-13), &errno));
        assert!(!stated(&ret(-2), &errno));
        // A constant the vocabulary has no value for (a flag) leaves numbers to its own rules.
        assert!(stated(&t(64), &Intent::read("opens with O_CREAT")));
    }
}
