//! Each rule of `specs-db/intent.toml`, tested with wording of the tests' own (not the
//! benchmark's): one phrasing that must be read as the concept and one near miss that must not.
use super::*;

fn read(text: &str) -> Intent {
    Intent::read(text)
}

#[test]
fn every_concept_is_recognised_in_wording_of_our_own() {
    use Concept::*;
    let cases: &[(Concept, &str, &str)] = &[
        (
            ProcessName,
            "tell me which program touched /var/log",
            "trace every chdir",
        ),
        (
            ProcessName,
            "for each bind, the calling process's PID and name",
            "for each bind, the calling process's PID",
        ),
        (
            ProcessName,
            "the id and name of the task that binds",
            "the id of the task that binds",
        ),
        (
            ProcessName,
            "tally chdir calls per program",
            "tally chdir calls per process id",
        ),
        (
            ProcessName,
            "count the chdir calls by program",
            "count the chdir calls made by programs called 'builder'",
        ),
        (
            ProcessName,
            "how many mprotect calls does each process issue?",
            "each process that calls mprotect, with its pid",
        ),
        (
            Pid,
            "log the PID of anything that calls sync()",
            "log rapid syncs",
        ),
        (
            Duration,
            "how long does each fsync() take",
            "count fsync() calls",
        ),
        (
            Lifetime,
            "for each temp file, how long it lived until removal",
            "how long does removing a temp file take",
        ),
        (
            ActingTask,
            "for every signal, the sender and the pid it went to",
            "for every signal, the pid it went to",
        ),
        (
            ChildTask,
            "new processes: the parent's pid and the child's pid",
            "new processes and their parent's pid",
        ),
        (
            Periodic,
            "show the number of forks every 10 s",
            "show the number of forks in 10 s",
        ),
        (
            StackTrace,
            "which code path leads to each page fault",
            "which file leads to each page fault",
        ),
        (
            Histogram,
            "a histogram of write sizes",
            "a list of write sizes",
        ),
        (
            Histogram,
            "the distribution of lseek offsets, per program",
            "the list of lseek offsets, per program",
        ),
        (
            Counting,
            "for every mounted filesystem, count the inodes evicted",
            "for every mounted filesystem, the count of inodes is printed",
        ),
        (
            Sum,
            "add up the bytes sent per user",
            "count the datagrams sent per user",
        ),
        (
            ReturnValue,
            "what errno does unlink() give back",
            "trace unlink() by name",
        ),
        (
            Identifies,
            "which programs start each minute",
            "how many programs start each minute",
        ),
        (
            SystemWide,
            "page faults per second across the whole machine",
            "page faults per second for each process",
        ),
        (
            ReturnValue,
            "each LSM hook call and its verdict",
            "each LSM hook call and its caller",
        ),
        // A call named for returning (sigreturn(2)) asks for no result.
        (
            ReturnValue,
            "tally sigreturn calls and what they returned, by program",
            "tally sigreturn calls by program",
        ),
        (Arguments, "every exec with its arguments", "every exec"),
        (
            Port,
            "the destination port of new TCP sessions",
            "new TCP sessions",
        ),
        (
            Port,
            "the peer port of each connection to port 8443",
            "each connection to port 8443",
        ),
        (
            LocalPort,
            "sockets closing, with their local and peer ports",
            "sockets of local servers closing, with their peer ports",
        ),
        (Size, "the size of every mmap", "every mmap"),
        (Octal, "print the mode in octal", "print the mode"),
        (
            ParentPid,
            "each new shell with its parent's process id",
            "each new shell with its process id",
        ),
        (
            ParentName,
            "cron jobs by the name of their parent",
            "cron jobs by the name of the job",
        ),
        (
            Counting,
            "tally up signals delivered, per signal number",
            "print each signal delivered with its number",
        ),
        (
            Counting,
            "how often does each cron job run",
            "when does each cron job run",
        ),
        (
            Counting,
            "count the writes to pipes made by every shell",
            "print the writes to pipes with the byte count",
        ),
        (
            Counting,
            "the number of pipe writes per shell",
            "show the number of bytes each shell sends through pipes as a histogram",
        ),
        (
            FileName,
            "what files does the backup job delete",
            "does the backup job delete anything",
        ),
        (
            FileName,
            "each chown with the full path and the new owner",
            "each chown with the file descriptor and the new owner",
        ),
        (
            FileName,
            "log each move with its source path and destination path",
            "log each move with its source port and destination port",
        ),
        (
            FileName,
            "which file is each process closing",
            "which file handle is each process closing",
        ),
        (
            HardwareCounters,
            "LLC misses per process",
            "calls per process",
        ),
        (
            HardwareCounters,
            "cache misses per process",
            "inode cache misses per process",
        ),
        (
            HardwareCounters,
            "how often does each program miss the last-level cache",
            "how often does each program miss its deadline",
        ),
        (
            HardwareCounters,
            "the IPC of each program, from hardware counters",
            "msgget calls passing IPC_PRIVATE, per program",
        ),
        (
            HardwareCounters,
            "count TLB misses and stalled cycles per thread",
            "count page misses per thread",
        ),
        (
            HardwareCounters,
            "which threads suffer the most mispredicted branches",
            "which threads take the most branches in their code paths",
        ),
        (
            CpuSampling,
            "which functions are the hottest",
            "which functions are called",
        ),
        (Failure, "opens that were unsuccessful", "opens that worked"),
        (Failure, "mounts that return an error", "mounts that return"),
        (
            Failure,
            "binds that could not get their port",
            "binds that got their port",
        ),
        (Open, "opening files", "closing files"),
        (NonZeroExit, "jobs with a non-zero exit", "jobs that exit"),
        (
            NonZeroExit,
            "jobs ending with a nonzero status",
            "jobs ending",
        ),
        (
            WorldWritable,
            "files made world-writable",
            "files made private",
        ),
        (Identifies, "who deletes files", "deleted files per second"),
        (
            Connections,
            "UDP traffic by destination",
            "disk traffic by device",
        ),
        (Ipv6, "connections over IPv6", "connections over loopback"),
        (
            CommandLine,
            "log the command line of every exec",
            "log every exec",
        ),
        (
            ExitStatus,
            "the exit status of each child",
            "each child as it ends",
        ),
        (
            RenamesSelf,
            "tasks that set their own name",
            "tasks that rename files",
        ),
        (
            ExecRenamesExcluded,
            "tasks setting their own name, except when exec does it",
            "tasks setting their own name, exec included",
        ),
        (
            Addresses,
            "the remote IP of each session",
            "the remote end of each session",
        ),
        (
            Average,
            "the mean wait per disk, and how it averages over a minute",
            "what the wait per disk means",
        ),
        (
            EachEvent,
            "the latency of each chown() call",
            "the latency of chown() calls per call type",
        ),
        (Milliseconds, "time spent in ms", "time spent"),
        (
            Microseconds,
            "anything slower than 50us",
            "show us anything slow",
        ),
        (Nanoseconds, "report it in nanoseconds", "report it"),
        (
            EitherOutcome,
            "each bind with the port, or the error",
            "each bind that ended in an error",
        ),
        (
            TargetTask,
            "which processes receive SIGTERM, by the pid of the process receiving it",
            "which processes send SIGTERM",
        ),
        (
            NewThreads,
            "count threads spawned per program",
            "count programs spawned per parent",
        ),
        (
            AllSyscalls,
            "a breakdown of failed syscalls by program",
            "a breakdown of files opened by program",
        ),
        (
            FatalSignal,
            "jobs that died from a signal, and which one",
            "jobs that sent a signal, and which one",
        ),
        (
            WhichCall,
            "log chown and fchown, saying which call it was",
            "log chown and fchown, saying which file it was",
        ),
        (
            SpeaksOfCalls,
            "track chown/lchown calls",
            "track chown/lchown",
        ),
    ];
    for (concept, yes, no) in cases {
        assert!(read(yes).asks(*concept), "{concept:?} not read in: {yes}");
        assert!(!read(no).asks(*concept), "{concept:?} read in: {no}");
    }
    // Every concept the code knows is covered by a case above.
    for c in Concept::ALL {
        assert!(cases.iter().any(|(k, _, _)| k == c), "{c:?} has no test");
    }
}

#[test]
fn one_stated_time_unit_or_none() {
    assert_eq!(
        read("total on-CPU time in milliseconds").time_unit,
        Some(TimeUnit::Ms)
    );
    assert_eq!(
        read("waits longer than 200 µs").time_unit,
        Some(TimeUnit::Us)
    );
    assert_eq!(
        read("show us the slow calls").time_unit,
        None,
        "us is a word"
    );
    assert_eq!(
        read("ms totals and a ns histogram in nanoseconds").time_unit,
        None
    );
}

#[test]
fn an_english_call_name_after_socket_is_the_call() {
    // shutdown(2), bind(2), listen(2): the first parameter is the socket.
    let i = Intent::read("tell me about socket binds and socket listen events on this box");
    assert_eq!(i.calls, ["bind", "listen"]);
    assert_eq!(
        Intent::read("any socket shutdown, per uid").calls,
        ["shutdown"]
    );
    // Not the call: a longer word, another word after "socket", or the name alone.
    assert!(Intent::read("socket connections per port").calls.is_empty());
    assert!(Intent::read("socket creations per family").calls.is_empty());
    assert!(Intent::read("programs that bind to a port")
        .calls
        .is_empty());
}

#[test]
fn calls_identifiers_and_syscall_words() {
    let i = read("Count getdents64 and stat() calls, and open/openat, not tcp_v4_connect");
    assert_eq!(i.calls, ["stat"]);
    assert_eq!(i.identifiers, ["tcp_v4_connect"]);
    // jargon (getdents64, count? no: english words of 4+ letters are jargon only if not listed)
    assert!(i.syscall_words.contains(&"getdents64".to_owned()));
    assert!(
        i.syscall_words.contains(&"stat".to_owned()),
        "written as a call"
    );
    assert!(
        i.syscall_words.contains(&"open".to_owned()),
        "slash list of calls"
    );
    assert!(!read("files I open often")
        .syscall_words
        .contains(&"open".to_owned()));
    // An English word right before "call(s)" may name one; "system calls" names none.
    let before = read("tally link calls and every pause call, split by program");
    assert!(
        before.syscall_words.contains(&"link".to_owned()),
        "{:?}",
        before.syscall_words
    );
    assert!(before.syscall_words.contains(&"pause".to_owned()));
    assert!(!read("a link to the docs, and calls made by cron")
        .syscall_words
        .contains(&"link".to_owned()));
    // Named as calls by the words after them.
    let named =
        read("who changes owners through the chown family of system calls, or the kill syscall");
    assert_eq!(named.calls, ["chown", "kill"]);
    assert!(named.syscall_words.contains(&"chown".to_owned()));
    assert!(read("count all system calls and every syscall")
        .calls
        .is_empty());
}

#[test]
fn calls_named_in_a_clause_that_sets_them_apart_are_not_calls_to_observe() {
    let i = read("tally every syscall per process, excluding futex and epoll_wait");
    for gone in ["futex", "epoll_wait"] {
        assert!(
            !i.syscall_words.iter().any(|w| w == gone),
            "{:?}",
            i.syscall_words
        );
    }
    let i = read("log each unlinkat call; ignore the ones fchownat makes. Show the mode");
    assert!(
        i.syscall_words.iter().any(|w| w == "unlinkat"),
        "{:?}",
        i.syscall_words
    );
    assert!(
        !i.syscall_words.iter().any(|w| w == "fchownat"),
        "{:?}",
        i.syscall_words
    );
}

#[test]
fn a_size_or_time_to_exceed_is_a_threshold_and_a_count_is_not() {
    for (text, want) in [
        ("reads of at least 2 KiB", Some(2)),
        ("writes bigger than 100000 bytes", Some(100_000)),
        ("fsyncs taking 15 ms or longer", Some(15)),
        ("allocations over 8 MB or lasting above 2 s", Some(2)),
        ("processes that fork more than 3 times", None),
        ("reads under 4 KiB", None),
        // A verb before "past" passes a bound; "the past N seconds" is a time span.
        ("pwrite calls whose offset goes past 3 GiB", Some(3)),
        ("count opens over the past 5 seconds", None),
    ] {
        assert_eq!(read(text).threshold, want, "{text}");
    }
}

#[test]
fn filesystems_binaries_numbers_and_names() {
    assert_eq!(read("slow btrfs commits").filesystems, ["btrfs"]);
    assert!(read("slow ext4 writes")
        .filesystems
        .contains(&"ext4".to_owned()));
    assert!(read("subfs stuff").filesystems.is_empty());
    let i = read("which functions of glibc and /usr/bin/python3 are called most");
    assert!(
        i.binary_words.contains(&"libc".to_owned()),
        "{:?}",
        i.binary_words
    );
    assert!(i.binary_words.contains(&"/usr/bin/python3".to_owned()));
    let tls = read("how long does each handshake take inside OpenSSL");
    assert_eq!(tls.binary_words, ["libssl"]);
    let n = read("reads over 2 KiB or 100 bytes").numbers;
    for want in [2, 2048, 100] {
        assert!(n.contains(&want), "{want} in {n:?}");
    }
    assert!(!n.contains(&2000), "a KiB is 1024 bytes: {n:?}");
    assert_eq!(
        read("syscalls of tasks called \"nginx\"")
            .process_name
            .as_deref(),
        Some("nginx")
    );
    assert_eq!(read("syscalls of nginx").process_name, None);
    for (text, name) in [
        (
            "files opened by the program called log-shipper, with flags",
            Some("log-shipper"),
        ),
        ("page faults of tasks named worker2.", Some("worker2")),
        ("what a process called repeatedly does", None),
        ("exits of processes named after their parent", None),
        ("log each command-line flag a shell passes", None),
        ("tasks with comm == 'db-writer'", Some("db-writer")),
    ] {
        assert_eq!(read(text).process_name.as_deref(), name, "{text}");
    }
}

#[test]
fn times_are_stated_in_every_unit_they_are_whole_in() {
    let n = read("lock waits over 3 ms or 2 seconds").numbers;
    for want in [3, 3_000, 3_000_000, 2, 2_000, 2_000_000, 2_000_000_000] {
        assert!(n.contains(&want), "{want} in {n:?}");
    }
    let n = read("stalls of 40us and 7 nanoseconds").numbers;
    assert!(n.contains(&40_000) && n.contains(&7), "{n:?}");
    assert!(!n.contains(&7_000), "ns is the smallest unit: {n:?}");
    // A word that starts like a unit is not one.
    assert_eq!(read("3 sockets").numbers, [3]);
}

#[test]
fn quantities_written_in_words_are_numbers() {
    let waits = read("lock holds of more than two milliseconds");
    assert!(waits.numbers.contains(&2_000_000), "{:?}", waits.numbers);
    assert_eq!(waits.threshold, Some(2));
    let a = read("page faults that take longer than a second");
    assert!(a.numbers.contains(&1_000_000_000), "{:?}", a.numbers);
    let half = read("polls that block over half a second");
    assert!(half.numbers.contains(&500_000_000), "{:?}", half.numbers);
    let minutes = read("connections idle over 3 minutes");
    assert!(minutes.numbers.contains(&180_000), "{:?}", minutes.numbers);
    // Ordinals and counts without a unit stay words.
    assert!(read("a second process forks once, each one")
        .numbers
        .is_empty());
    assert_eq!(read("every ten seconds, count forks").period_s, Some(10));
}

#[test]
fn constants_are_read_as_man_pages_write_them() {
    let i = read("opens with O_CREAT that fail with EEXIST, and tasks sent SIGTERM");
    assert_eq!(i.constants, ["O_CREAT", "EEXIST", "SIGTERM"]);
    assert!(read("TCP and UDP sockets, by PID").constants.is_empty());
}

#[test]
fn word_tests_respect_boundaries() {
    let i = read("show the new mode, per sectors, for 'cron'");
    assert!(i.names_word("mode"));
    assert!(!i.names_word("mod"));
    assert!(i.names_prefix("sector"));
    assert!(!i.names_prefix("ector"));
    assert!(i.quotes("CRON"));
    assert!(!i.quotes("mode"));
    assert!(read("bytes of requests written").uses_word("write"));
    assert!(!read("bytes of requests read").uses_word("write"));
}

#[test]
fn exclusions_and_search_vocabulary() {
    assert_eq!(
        read("opens that failed").exclusions,
        [Exclusion::SuccessfulOpens]
    );
    assert!(read("writes that failed").exclusions.is_empty());
    let s = read("which files were deleted").search_text;
    assert!(s.contains("unlinkat"), "{s}");
    assert!(!read("a new connection")
        .search_text
        .contains("block_rq_issue"));
    // The kernel's name for the APIC timer interrupt (/proc/interrupts LOC).
    let loc = read("how many local timer ticks does each processor take");
    assert!(loc.search_text.contains("local_timer_entry"), "{loc}");
    assert!(!read("hrtimer expiries")
        .search_text
        .contains("local_timer_entry"));
    // Extended attributes are the xattr calls (xattr(7)).
    let xattr = read("who strips extended attributes off files");
    assert!(xattr.search_text.contains("removexattr"), "{xattr}");
    // A signal's handler is installed by sigaction(2); an interrupt handler is not one.
    let handler = read("which daemons set up a handler for SIGHUP");
    assert!(handler.search_text.contains("rt_sigaction"), "{handler}");
    assert!(!read("time spent in each irq handler")
        .search_text
        .contains("rt_sigaction"));
    // An apostrophe of a possessive quotes nothing: the words after it stay the subject.
    let possessive = read("alert when a daemon's job alters a file's permissions for 'others'");
    assert!(possessive.search_text.contains("fchmodat"), "{possessive}");
    assert!(
        possessive.subjects.iter().any(|s| s.word == "permissions"),
        "{possessive}"
    );
    // A file's permissions are changed by chmod(2); one permission a call checks is not that.
    let loosened = read("who loosens the permissions of files under /srv?");
    assert!(loosened.search_text.contains("fchmodat"), "{loosened}");
    assert!(!read("faccessat calls that check for write permission")
        .search_text
        .contains("fchmodat"));
    // Symbolic links are made by symlink(2), not link(2) (symlink(7)).
    let soft = read("who makes soft links, I mean symbolic links, under /srv?");
    assert!(soft.search_text.contains("symlinkat"), "{soft}");
    assert!(!read("count hard links made")
        .search_text
        .contains("symlink"));
}

#[test]
fn non_ascii_requests_are_read_without_panic() {
    for text in [
        "µs latency of ünlink()",
        "→ open()",
        "名前 pid",
        "ß/ẞ calls",
        "é",
    ] {
        let i = read(text);
        let _ = i.to_string();
        let _ = (i.names_word("s"), i.names_prefix("s"), i.uses_word("e"));
    }
}

#[test]
fn subjects_are_the_words_that_name_what_is_observed() {
    let words =
        |text: &str| -> Vec<String> { read(text).subjects.into_iter().map(|s| s.word).collect() };
    // Request verbs, quantity and shape words, quoted names and paths are not subjects.
    assert_eq!(
        words("Please show me how long each slab cache allocation takes, in ms, for 'redis'"),
        ["slab", "cache", "allocation"]
    );
    assert_eq!(
        words("count swap-in activity per second under /var/tmp"),
        ["swap", "swapin"]
    );
    // A C constant is a number the request gives, not the thing observed.
    assert_eq!(
        words("which daemons call setns with CLONE_NEWPID?"),
        ["daemons", "setns"]
    );
    assert_eq!(
        words("log SIGSEGV deliveries to daemons"),
        ["deliveries", "daemons"]
    );
    // Words that arrange the report (grouped, sorted, separately) observe nothing.
    assert_eq!(
        words("tally chown calls grouped by owner, sorted, root separately"),
        ["chown", "owner", "root"]
    );
    assert_eq!(
        words("log every IRQ handler with its process id"),
        ["irq", "handler"]
    );
    // How fast or slow something happens is no thing observed.
    assert_eq!(
        words("log writers that dirty memory too fast"),
        ["writers", "dirty", "memory"]
    );
    // A word the vocabulary says names kernel objects comes with their names; a word it only
    // helps retrieval for does not.
    let ns = read("who sets up fresh mount namespaces");
    let n = ns
        .subjects
        .iter()
        .find(|s| s.word == "namespaces")
        .expect("namespaces is a subject");
    assert!(n.kernel.iter().any(|k| k == "unshare"), "{n:?}");
    let removed = read("who removed files in the last minute");
    let d = removed
        .subjects
        .iter()
        .find(|s| s.word == "removed")
        .expect("removed is a subject");
    assert!(d.kernel.is_empty(), "{d:?}");
    // "Page fault" names the exceptions tracepoints; "fault" alone (a segmentation fault) does
    // not.
    let faults = read("which binaries take the most page faults while starting");
    let f = faults
        .subjects
        .iter()
        .find(|s| s.word == "faults")
        .expect("faults is a subject");
    assert!(f.kernel.iter().any(|k| k == "page_fault_user"), "{f:?}");
    let segv = read("programs dying of a segmentation fault");
    assert!(segv
        .subjects
        .iter()
        .all(|s| s.kernel.iter().all(|k| k != "page_fault_user")));
}

#[test]
fn digits_that_end_a_name_are_no_stated_number() {
    assert!(read("listen on IPv6 or ipv4 only").numbers.is_empty());
    assert!(read("writes on ext4 from x86_64 hosts").numbers.is_empty());
    assert_eq!(read("reads over 64KB on ext4").numbers, [64, 65536, 64000]);
    assert_eq!(read("port 8080, then 2 s").numbers[..2], [8080, 2]);
    assert_eq!(read("-1 returned").numbers, [1]);
}

#[test]
fn time_off_the_cpu_names_the_context_switch_and_is_no_sampling() {
    // bcc offcputime(8): off-CPU time runs between sched_switch events; profile:hz samples only
    // what is on a CPU. Every spelling: words, hyphen, one word.
    for text in [
        "how much time do my workers lose off the CPU, per thread",
        "sum off-CPU time for each command",
        "offcpu totals by pid",
    ] {
        let i = read(text);
        assert!(!i.asks(Concept::CpuSampling), "{text}: {i}");
        let cpu = i
            .subjects
            .iter()
            .find(|s| s.kernel.iter().any(|k| k == "sched_switch"))
            .unwrap_or_else(|| panic!("{text}: no subject names sched_switch: {i}"));
        assert_eq!(cpu.kernel, ["sched_switch"], "{text}");
    }
    assert!(read("where does CPU time go? sample at 99 Hz").asks(Concept::CpuSampling));
    assert!(!read("sample at 99 Hz on every cpu")
        .subjects
        .iter()
        .any(|s| !s.kernel.is_empty()));
}

#[test]
fn an_outcome_asked_either_way_is_no_failure_filter() {
    for text in [
        "list the sockets each daemon binds, with the port and the descriptor returned or the error",
        "show every unlink with whether the call succeeded",
        "report chown calls: path, owner, success or failure",
    ] {
        let i = read(text);
        assert!(i.asks(Concept::EitherOutcome), "{text}");
        assert!(!i.asks(Concept::Failure), "{text}");
    }
    for text in [
        "show failed unlink calls",
        "bind errors by port",
        "which connects were refused",
    ] {
        let i = read(text);
        assert!(i.asks(Concept::Failure), "{text}");
        assert!(!i.asks(Concept::EitherOutcome), "{text}");
    }
}

#[test]
fn the_task_acted_on_is_read_in_words_of_my_own() {
    for text in [
        "print the target pid of every kill",
        "show the process being killed and by whom",
        "log each wakeup with the woken task's name",
        "list the tasks that get signalled, with the signal",
        "who got killed by the OOM reaper?",
        "out-of-memory kills: show the victim's pid",
        "the name of the chosen victim when memory runs out",
        "print each thread when it gets woken, with its pid",
    ] {
        assert!(read(text).asks(Concept::TargetTask), "{text}");
    }
    for text in [
        "which processes call kill()",
        "count signals sent per sender",
        "show the process that deletes files",
    ] {
        assert!(!read(text).asks(Concept::TargetTask), "{text}");
    }
}

#[test]
fn the_child_of_a_fork_is_read_in_words_of_my_own() {
    for text in [
        "each time a process splits in two, show the new child's pid",
        "log clones with the parent and the children's process ids",
        "print the name of each child as it is spawned",
        "fork events: child pid and child name",
        "as programs spawn others, print the spawner and the new PID",
        "log the ID of every new task alongside its creator's name",
    ] {
        assert!(read(text).asks(Concept::ChildTask), "{text}");
    }
    for text in [
        "show child processes that exit with an error",
        "count forks per parent process",
        "which programs unshare into a new PID namespace?",
    ] {
        assert!(!read(text).asks(Concept::ChildTask), "{text}");
    }
}

#[test]
fn system_calls_in_general_are_read_in_words_of_my_own() {
    for text in [
        "list the system calls issued by sshd",
        "profiling syscalls of the postgres workers",
        "a syscall profile of cron",
        "what syscalls does my build spend time in",
        "syscall latency per process",
        "show me all system calls which failed",
        "errors grouped by syscall name",
        "tally system calls issued from cron",
    ] {
        assert!(read(text).asks(Concept::AllSyscalls), "{text}");
    }
    for text in [
        "a system call that opens files",
        "slow reads from disk",
        "the syscall number of each exit",
        "the unlinkat system calls that fail",
        "tally the unlinkat system calls",
    ] {
        assert!(!read(text).asks(Concept::AllSyscalls), "{text}");
    }
}

#[test]
fn a_comma_list_of_call_names_names_the_everyday_ones_too() {
    let i = read("count the calls to read, write, pread64 and readv per process");
    for w in ["read", "write", "pread64", "readv"] {
        assert!(
            i.syscall_words.contains(&w.to_owned()),
            "{w}: {:?}",
            i.syscall_words
        );
    }
    // A list of everyday words is no list of calls, nor is a list where no call is spoken of.
    let plain = read("calls that read, write or close files");
    assert!(
        !plain.syscall_words.contains(&"read".to_owned()),
        "{:?}",
        plain.syscall_words
    );
    let words = read("each fsync call: log the time, the PID, the command and the call's name");
    assert!(
        !words.syscall_words.contains(&"time".to_owned()),
        "{:?}",
        words.syscall_words
    );
    let no_calls = read("list sync, syncfs and fsync activity");
    assert!(!no_calls.syscall_words.contains(&"sync".to_owned()));
}

#[test]
fn sizes_with_units_are_read_in_every_spelling_of_bytes() {
    let i = Intent::read("allocations over 64 KiB, and files past 2 gb");
    assert_eq!(
        i.sizes,
        vec![vec![64, 65_536], vec![2, 2 << 30, 2_000_000_000]]
    );
    // An IEC unit is binary only (IEC 80000-13): 32 KiB is never 32000 bytes.
    let kib = Intent::read("reads that ask for over 32 KiB");
    assert!(!kib.numbers.contains(&32_000), "{:?}", kib.numbers);
    assert!(kib.numbers.contains(&32_768));
    assert!(Intent::read("reads past 32 KB").numbers.contains(&32_000));
    // Numbers without a size unit are no sizes: a port, a protocol version, a count.
    assert!(Intent::read("the top 10 IPv4 peers on port 443")
        .sizes
        .is_empty());
}

#[test]
fn a_stated_period_is_read_in_seconds() {
    assert_eq!(read("count forks every 5 seconds").period_s, Some(5));
    assert_eq!(read("count forks every 2 minutes").period_s, Some(120));
    assert_eq!(read("count forks per second").period_s, None);
    assert!(read("count forks per second").asks(Concept::Periodic));
    // A sampling frequency is no output period.
    assert!(!read("profile the machine at 49 times a second").asks(Concept::Periodic));
}

#[test]
fn a_task_being_acted_on_is_the_target_and_one_being_created_is_not() {
    assert!(read("renice calls, with the pid being reprioritised").asks(Concept::TargetTask));
    assert!(read("show the threads being traced by each debugger").asks(Concept::TargetTask));
    assert!(!read("show the processes being spawned by cron").asks(Concept::TargetTask));
    assert!(!read("show the pid of each process as it runs").asks(Concept::TargetTask));
    // The task a call acts on, said with a pronoun for the call or its caller.
    assert!(read("prlimit64 callers and the process each one affects").asks(Concept::TargetTask));
    assert!(read("setpriority: who calls it and the pid it acts on").asks(Concept::TargetTask));
    assert!(!read("the cpu each wakeup targets").asks(Concept::TargetTask));
    // The man pages' words for the task making the call.
    let both = read("prlimit64: the calling thread and the pid each one affects");
    assert!(both.asks(Concept::TargetTask) && both.asks(Concept::ActingTask));
    assert!(read("setpriority callers with the pid it acts on").asks(Concept::ActingTask));
    // The task as the object of a clause: acted on by the clause's subject.
    assert!(read("the processes that the OOM killer picks, by name").asks(Concept::TargetTask));
    let frozen = read("list threads the cgroup freezer freezes");
    assert!(frozen.asks(Concept::TargetTask));
    assert!(
        frozen.subjects.iter().any(|s| s.word == "freezer"),
        "{frozen}"
    );
    assert!(!read("list threads that report errors").asks(Concept::TargetTask));
}

#[test]
fn lines_are_wanted_for_each_event_unless_an_aggregate_is() {
    assert!(read("print how long each fsync() call takes, with the program").wants_lines());
    assert!(read("tell me whenever a file is chmod-ed").wants_lines());
    assert!(!read("a histogram: the time each fsync() call takes").wants_lines());
    assert!(!read("summarize how long each fsync() call takes").wants_lines());
    assert!(!read("count every time a file is chmod-ed").wants_lines());
    assert!(read("show every page fault as it happens, with the address").wants_lines());
    assert!(!read("show every user's total bytes written").wants_lines());
    assert!(!read("fsync latency by program").wants_lines());
    // Events in the plural shown "with the <values>": each one, with its values.
    assert!(read("Log swapoff() calls with the path and the caller").wants_lines());
    assert!(read("Display inode evictions with their device and inode number.").wants_lines());
    assert!(!read("Show processes with the most page faults").wants_lines());
    assert!(!read("Show a count of swapoff() calls with the path per caller").wants_lines());
    // Or with the values after a colon.
    assert!(
        read("List chown calls that hand files to root: its caller and the file").wants_lines()
    );
    assert!(!read("Show the busiest readers by bytes: the name and the total").wants_lines());
    assert!(!read("List pipe2 calls: count them per program").wants_lines());
    // It masks nothing: the events stay the request's subject.
    let r = read("List umount calls with the target directory");
    assert!(
        r.wants_lines() && r.subjects.iter().any(|s| s.word == "umount"),
        "{r}"
    );
}

#[test]
fn an_established_connection_is_a_tcp_state_change() {
    let i = read("print each tcp session once it is established");
    let s = i
        .subjects
        .iter()
        .find(|s| s.word == "established")
        .expect("a subject");
    assert!(s.kernel.iter().any(|k| k == "inet_sock_set_state"), "{s:?}");
}

#[test]
fn errors_said_in_words_are_their_error_numbers() {
    let i = read("show the processes whose unlink fails because the file does not exist");
    assert_eq!(i.constants, ["ENOENT"]);
    assert!(i.asks(Concept::Failure));
    let i = read("connect calls refused by the peer: connection refused");
    assert!(i.constants.contains(&"ECONNREFUSED".to_owned()));
    // "Exists" alone is no failure.
    let i = read("print each file that exists in /tmp when it is opened");
    assert!(i.constants.is_empty());
    assert!(!i.asks(Concept::Failure));
}

#[test]
fn directories_paths_are_kept_under_end_in_a_slash() {
    assert_eq!(
        read("which files do programs create beneath /var/tmp").directories,
        ["/var/tmp/"]
    );
    assert_eq!(
        read("log files written in /etc/, with the pid").directories,
        ["/etc/"]
    );
    assert_eq!(
        read("count opens inside the /srv/data directory per process").directories,
        ["/srv/data/"]
    );
    assert_eq!(read("deletions in the /home tree").directories, ["/home/"]);
    // What is in it is a file: "a file in /srv" keeps paths under /srv.
    assert_eq!(
        read("report chmod of any file in /srv, with the mode").directories,
        ["/srv/"]
    );
    // A file is no directory: "in /etc/passwd" and "opens /etc/passwd" keep that path.
    assert!(read("alert on writes in /etc/passwd")
        .directories
        .is_empty());
    assert!(read("who opens /etc/shadow").directories.is_empty());
}

#[test]
fn port_numbers_are_read_as_ports() {
    assert_eq!(
        read("sendto() calls aimed at port 53 from any process").ports,
        [53]
    );
    assert_eq!(
        read("listeners on port number 8080 or ports 9090").ports,
        [8080, 9090]
    );
    assert!(read("count packets per port for 10 seconds")
        .ports
        .is_empty());
}

#[test]
fn kernel_objects_named_in_words_come_with_their_kernel_names() {
    let kernel_of = |text: &str, word: &str| -> Vec<String> {
        read(text)
            .subjects
            .into_iter()
            .find(|s| s.word == word)
            .map(|s| s.kernel)
            .unwrap_or_default()
    };
    let k = kernel_of("tally accepted TCP connections by server port", "accepted");
    assert!(k.iter().any(|k| k == "inet_sock_set_state"), "{k:?}");
    let k = kernel_of("lookups that miss the directory entry cache", "directory");
    assert!(k.iter().any(|k| k == "dcache"), "{k:?}");
    let k = kernel_of("how many dentries get freed", "dentries");
    assert!(k.iter().any(|k| k == "dentry"), "{k:?}");
    // "Accepted" alone (a verifier accepting a program) names no connection.
    assert!(kernel_of("programs the verifier accepted", "accepted").is_empty());
    // neigh.h and cpuhp.h: the kernel's short names for neighbour tables and CPU hotplug.
    let k = kernel_of("ARP neighbor entries as they get refreshed", "neighbor");
    assert!(k.iter().any(|k| k == "neigh_update"), "{k:?}");
    let k = kernel_of(
        "which cpu hotplug callbacks run, and for how long",
        "hotplug",
    );
    assert!(k.iter().any(|k| k == "cpuhp_enter"), "{k:?}");
    assert!(kernel_of("memory hotplug events", "hotplug").is_empty());
}

#[test]
fn a_call_named_after_by_or_for_each_is_no_grouping() {
    // Agentive "by" and "for each" before a named call speak of its events, not of a key.
    assert!(read("sizes of the buffers handed back by recvfrom() calls")
        .group_phrases
        .is_empty());
    assert!(read("for each pwrite64() call, its latency")
        .group_phrases
        .is_empty());
    assert_eq!(
        read("recvfrom() sizes per socket").group_phrases,
        [vec!["socket".to_owned()]]
    );
    // An agent's "by" ends where the key's "per" starts.
    let words = |p: &[&str]| p.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        read("tally frames dropped by the qdisc layer per interface name").group_phrases,
        [
            words(&["the", "qdisc", "layer"]),
            words(&["interface", "name"])
        ]
    );
    // A clause of its own ends the key: what follows "and <verb>" is another figure.
    assert_eq!(
        read("tally swap-outs per cgroup and sum the pages they free").group_phrases,
        [words(&["cgroup"])]
    );
    assert_eq!(
        read("count lock waits by lock class and owner").group_phrases,
        [words(&["lock", "class", "and", "owner"])]
    );
}

#[test]
fn a_byte_count_is_a_size_and_no_tally() {
    // read(2): "read up to count bytes"; the number a call returns is a byte count.
    assert!(
        !read("distribution of byte counts returned by recvmsg() calls").asks(Concept::Counting)
    );
    assert!(!read("the sector counts written by each disk").asks(Concept::Counting));
    assert!(read("counts of recvmsg() calls by process").asks(Concept::Counting));
}

#[test]
fn a_noun_after_an_indefinite_article_is_a_kind_not_a_value_to_show() {
    let kind = read("count how often a core drops into a deep sleep state");
    assert!(
        !kind.value_words.contains(&"state".to_owned()),
        "{:?}",
        kind.value_words
    );
    let shown = read("log each core's sleep state as it changes");
    assert!(shown.value_words.contains(&"state".to_owned()));
    let listed = read("print a pid and state for each switch");
    assert!(listed.value_words.contains(&"state".to_owned()));
    // Said once as a kind and once as a value: a value.
    let both = read("when a task enters a new state, print the state");
    assert!(both.value_words.contains(&"state".to_owned()));
}

#[test]
fn a_standard_stream_is_no_failure() {
    // stdin(3): standard error is file descriptor 2, not an error of the call.
    let ask = read("Tally writes to standard error by program");
    assert!(!ask.asks(Concept::Failure), "{ask}");
    assert!(ask.numbers.contains(&2), "{ask}");
}

#[test]
fn whose_size_and_a_stated_result_name_no_value() {
    let has = |ask: &str, w: &str| read(ask).value_words.contains(&w.to_owned());
    // "The buffer sizes" names a size; the buffer only says whose.
    assert!(!has(
        "a histogram of the buffer sizes handed to send()",
        "buffer"
    ));
    assert!(has(
        "a histogram of the buffer sizes handed to send()",
        "sizes"
    ));
    assert!(has(
        "each send() with its buffer and the buffer size",
        "buffer"
    ));
    // "Return no entries" is the result, not a field called `entries`.
    assert!(!has(
        "getdents64 calls that return no entries, by program",
        "entries"
    ));
    assert!(has(
        "getdents64 calls with the entries they fill",
        "entries"
    ));
}

#[test]
fn an_imperative_tally_verb_names_no_value() {
    let verb = read("Count page moves per program. Tally them again per node.");
    assert!(
        !verb.value_words.contains(&"count".to_owned()),
        "{:?}",
        verb.value_words
    );
    assert!(
        !verb.value_words.contains(&"tally".to_owned()),
        "{:?}",
        verb.value_words
    );
    // The count as a value: after the verb, or said as a noun.
    let noun = read("show each read and the count it asks for");
    assert!(
        noun.value_words.contains(&"count".to_owned()),
        "{:?}",
        noun.value_words
    );
    let listed = read("Count, size and pid of each read");
    assert!(
        listed.value_words.contains(&"count".to_owned()),
        "{:?}",
        listed.value_words
    );
}

#[test]
fn a_stated_result_is_read_as_a_number() {
    let cases: [(&str, Option<i128>); 8] = [
        (
            "count recvmsg() calls that return zero bytes, per process",
            Some(0),
        ),
        ("reads returning 0, by program", Some(0)),
        ("getdents64 calls that returned no entries", Some(0)),
        ("poll() calls that return 1 and the process", Some(1)),
        // An aside in parentheses may follow.
        (
            "pread64 calls that return 0 bytes (nothing left) by command",
            Some(0),
        ),
        // A size with a unit is a threshold; libc's -1 is the failure concept; no number.
        ("reads that return 4 KiB or more", None),
        ("connect() calls that return -1", None),
        ("every read and the bytes it returns", None),
    ];
    for (text, want) in cases {
        assert_eq!(read(text).result_value, want, "{text}");
    }
}

#[test]
fn a_call_blocking_for_a_stated_time_asks_for_a_duration() {
    for text in [
        "semop calls that block for longer than 2 s, with the program",
        "show futex waits over 20 ms and the program",
        "list each poll call, with the stall in microseconds",
    ] {
        assert!(read(text).asks(Concept::Duration), "{text}");
    }
    for text in [
        "writes in blocks of more than 4 KiB",
        "which programs wait for child exits",
    ] {
        assert!(!read(text).asks(Concept::Duration), "{text}");
    }
}

#[test]
fn a_threshold_of_what_calls_return_is_read() {
    for text in [
        "pread calls that return more than 8 KiB",
        "show recvmsg() calls returning at least 512 bytes",
        "reads that return 4 KiB or more, by program",
        // What is returned, named first.
        "dup calls that return a descriptor higher than 900",
        "epoll_wait calls returning a count of at least 8",
    ] {
        assert!(read(text).result_threshold, "{text}");
    }
    // A bound on what is returned needs no unit.
    assert_eq!(
        read("dup calls that return a descriptor higher than 900").threshold,
        Some(900)
    );
    assert_eq!(read("dup calls on descriptor 900").threshold, None);
    for text in [
        "writes of more than 8 KiB and what they return",
        "recvfrom calls that return zero bytes",
        "mmap calls asking for more than 1 MiB",
        "calls that return an error over the network",
    ] {
        assert!(!read(text).result_threshold, "{text}");
    }
}

#[test]
fn words_said_only_in_a_builtins_phrase_name_no_field() {
    let only = read("tally fsetxattr() calls per process name");
    assert!(
        only.builtin_phrase_words.contains(&"name".to_owned()),
        "{:?}",
        only.builtin_phrase_words
    );
    let also = read("tally fsetxattr() calls per process name and attribute name");
    assert!(
        !also.builtin_phrase_words.contains(&"name".to_owned()),
        "{:?}",
        also.builtin_phrase_words
    );
}

#[test]
fn a_run_together_maximum_is_spelled_out() {
    assert!(crate::intent::naming::names_field(
        &read("mbind calls with the highest node number allowed, the maximum node"),
        "syscalls",
        "sys_enter_mbind",
        "maxnode"
    ));
    assert!(!crate::intent::naming::names_field(
        &read("mbind calls with the policy mode"),
        "syscalls",
        "sys_enter_mbind",
        "maxnode"
    ));
}

#[test]
fn a_count_beside_a_sum_counts_the_events_it_names() {
    for text in [
        "count io_uring_enter calls per process and add up their submissions",
        "Count page reclaims per node and add up the pages they free",
        "count writeback runs for each device, and sum the pages written",
    ] {
        assert!(read(text).counts_events, "{text}");
    }
    for text in [
        "add up the bytes per process name",
        "count the bytes each device completes",
    ] {
        assert!(!read(text).counts_events, "{text}");
    }
}
