use super::keys::split_top_level;
use super::*;

fn host() -> HostFacts {
    HostFacts::for_tests_with_syscalls(&[
        "read",
        "bind",
        "connect",
        "accept",
        "accept4",
        "mkdir",
        "mkdirat",
        "fork",
        "openat",
        "execve",
        "execveat",
        "recvfrom",
        "recvmsg",
        "madvise",
        "pipe2",
        "sched_setscheduler",
    ])
}

fn passes(request: &str, source: &str) -> bool {
    check_coverage(&host(), &Intent::read(request), source).passed()
}

#[test]
fn a_group_id_asked_for_is_the_calls_group_id_parameter() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_setpgid",
            &[("int", "__syscall_nr"), ("pid_t", "pid"), ("pid_t", "pgid")],
        ),
        (
            "syscalls",
            "sys_enter_setgid",
            &[("int", "__syscall_nr"), ("gid_t", "gid")],
        ),
    ]);
    let ask = "log each setpgid call with the moved process and the group ID it joins";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src);
    let without = check("tracepoint:syscalls:sys_enter_setpgid { printf(\"%d\\n\", args->pid); }");
    assert!(
        without.detail().contains("`args->pgid`"),
        "{}",
        without.detail()
    );
    let with = check(
        "tracepoint:syscalls:sys_enter_setpgid { printf(\"%d %d\\n\", args->pid, args->pgid); }",
    );
    assert!(!with.detail().contains("pgid"), "{}", with.detail());
    let ask = "which programs switch to another group ID with setgid";
    let c = check_coverage(
        &h,
        &Intent::read(ask),
        "tracepoint:syscalls:sys_enter_setgid { printf(\"%s\\n\", comm); }",
    );
    assert!(c.detail().contains("`args->gid`"), "{}", c.detail());
}

#[test]
fn what_grows_is_a_size_after_compared_with_the_size_before() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_mremap",
        &[
            ("int", "__syscall_nr"),
            ("unsigned long", "addr"),
            ("unsigned long", "old_len"),
            ("unsigned long", "new_len"),
            ("unsigned long", "flags"),
            ("unsigned long", "new_addr"),
        ],
    )]);
    let check = |ask: &str, src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let every = "tracepoint:syscalls:sys_enter_mremap { printf(\"%s %d %d\\n\", comm, args->old_len, args->new_len); }";
    let grown = "tracepoint:syscalls:sys_enter_mremap /args->new_len > args->old_len/ { printf(\"%s %d %d\\n\", comm, args->old_len, args->new_len); }";
    let ask = "print remappings that expand an area, with both sizes and the program";
    assert!(check(ask, every).contains("`args->new_len > args->old_len`"));
    assert!(!check(ask, grown).contains("compares the two"));
    let ask = "print remappings that shrink an area, with both sizes and the program";
    assert!(check(ask, every).contains("`args->new_len < args->old_len`"));
    // No growth asked: nothing to compare.
    let ask = "print every remapping with both sizes and the program";
    assert!(!check(ask, every).contains("compares the two"));
}

#[test]
fn a_builtin_key_no_word_names_is_unasked_whatever_the_phrase_means() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "writeback",
        "writeback_dirty_inode",
        &[
            ("char[32]", "name"),
            ("ino_t", "ino"),
            ("unsigned long", "state"),
            ("unsigned long", "flags"),
        ],
    )]);
    let ask = "how many inodes get dirtied, per backing device?";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let by_comm = "tracepoint:writeback:writeback_dirty_inode { @n[comm, args->name] = count(); }";
    assert!(
        check(by_comm).contains("keys its tally by comm"),
        "{}",
        check(by_comm)
    );
    let by_name = "tracepoint:writeback:writeback_dirty_inode { @n[args->name] = count(); }";
    assert!(
        !check(by_name).contains("keys its tally"),
        "{}",
        check(by_name)
    );
}

#[test]
fn a_signal_written_as_its_number_is_tested_on_a_signal_field() {
    let ask = "which processes probe others with signal 0 through kill? print the prober and the target pid";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src).detail();
    let on_pid =
        "tracepoint:syscalls:sys_enter_kill /pid != 0/ { printf(\"%s %d\\n\", comm, args->pid); }";
    assert!(check(on_pid).contains("signal 0"), "{}", check(on_pid));
    let on_sig = "tracepoint:syscalls:sys_enter_kill /args->sig == 0/ { printf(\"%s %d\\n\", comm, args->pid); }";
    assert!(!check(on_sig).contains("signal 0"), "{}", check(on_sig));
}

#[test]
fn a_flag_of_a_numbered_call_is_not_asked_of_its_older_versions() {
    let ask = "tally renames done with RENAME_NOREPLACE, per program";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src).detail();
    let with_older = "tracepoint:syscalls:sys_enter_renameat2 /args->flags & 1/ { @[comm] = count(); }\ntracepoint:syscalls:sys_enter_renameat { @[comm] = count(); }";
    assert!(
        check(with_older).contains("also reports renameat"),
        "{}",
        check(with_older)
    );
    let only_newer =
        "tracepoint:syscalls:sys_enter_renameat2 /args->flags & 1/ { @[comm] = count(); }";
    assert!(
        !check(only_newer).contains("also reports"),
        "{}",
        check(only_newer)
    );
    // A flag every version takes in another argument (chmod(2) mode bits, flags.toml lists
    // fchmodat and fchmodat2): no older version to leave out.
    let ask = "print chmod-family calls that give the group write access (S_IWGRP)";
    let modes = "tracepoint:syscalls:sys_enter_fchmodat,tracepoint:syscalls:sys_enter_fchmodat2 /args->mode & 16/ { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &Intent::read(ask), modes)
        .detail()
        .contains("also reports"));
    // dup2 and dup take no flags; dup3 does (O_CLOEXEC).
    let ask = "which programs duplicate descriptors with O_CLOEXEC";
    let dups = "tracepoint:syscalls:sys_enter_dup3,tracepoint:syscalls:sys_enter_dup2 /args->flags & 0x80000/ { printf(\"%s\\n\", comm); }";
    assert!(check_coverage(&host(), &Intent::read(ask), dups)
        .detail()
        .contains("also reports dup2"));
    // A flag of a call with no older version (open's O_EXCL at openat) asks nothing of this.
    let ask = "who opens files with O_EXCL";
    let both = "tracepoint:syscalls:sys_enter_open,tracepoint:syscalls:sys_enter_openat /args->flags & 0x80/ { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &Intent::read(ask), both)
        .detail()
        .contains("also reports"));
}

#[test]
fn a_named_error_is_tested_however_its_negation_is_written() {
    let ask = "which lookups of extended attributes fail with ENODATA, by program";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src).detail();
    for tested in ["args->ret == -61", "args->ret == -(61)", "-61 == args->ret"] {
        let src =
            format!("tracepoint:syscalls:sys_exit_getxattr /{tested}/ {{ @[comm] = count(); }}");
        assert!(
            !check(&src).contains("ENODATA"),
            "{tested}: {}",
            check(&src)
        );
    }
    let any_failure =
        "tracepoint:syscalls:sys_exit_getxattr /args->ret < 0/ { @[comm] = count(); }";
    assert!(check(any_failure).contains("ENODATA"));
}

#[test]
fn counting_the_events_beside_a_sum_needs_a_count() {
    let ask = "count pwritev calls for each program and add up the bytes they write";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src).detail();
    let sum_only =
        "tracepoint:syscalls:sys_exit_pwritev /args->ret >= 0/ { @b[comm] = sum(args->ret); }";
    assert!(check(sum_only).contains("only sums"), "{}", check(sum_only));
    let both = "tracepoint:syscalls:sys_exit_pwritev /args->ret >= 0/ { @n[comm] = count(); @b[comm] = sum(args->ret); }";
    assert!(!check(both).contains("only sums"), "{}", check(both));
    // Counting a quantity is a sum: "count the bytes".
    let bytes = "count the bytes each program writes with pwritev";
    let c = check_coverage(&host(), &Intent::read(bytes), sum_only);
    assert!(!c.detail().contains("only sums"), "{}", c.detail());
}

#[test]
fn a_named_flag_is_described_with_the_field_of_the_call_named() {
    // CLONE_NEWNET is a bit of `unshare_flags` at unshare(2), of `clone_flags` at clone(2).
    let ask = "which programs leave for a fresh network namespace with unshare (CLONE_NEWNET)?";
    let untested = "tracepoint:syscalls:sys_enter_unshare { printf(\"%s\\n\", comm); }";
    let d = check_coverage(&host(), &Intent::read(ask), untested).detail();
    assert!(
        d.contains("`args->unshare_flags` at tracepoint:syscalls:sys_enter_unshare"),
        "{d}"
    );
    assert!(!d.contains("clone_flags"), "{d}");
    // A call the request names that flags.toml does not document the flag for takes it in an
    // argument of its own: mq_open(3) `oflag` takes O_CREAT. A bit test there keeps it; no
    // test at open(2) is asked for.
    let ask = "list mq_open calls that pass O_CREAT, with the caller";
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_mq_open",
        &[
            ("const char *", "u_name"),
            ("int", "oflag"),
            ("umode_t", "mode"),
        ],
    )]);
    let kept =
        "tracepoint:syscalls:sys_enter_mq_open /args->oflag & 0x40/ { printf(\"%s\\n\", comm); }";
    let d = check_coverage(&h, &Intent::read(ask), kept).detail();
    assert!(!d.contains("O_CREAT"), "{d}");
    let untested = "tracepoint:syscalls:sys_enter_mq_open { printf(\"%s\\n\", comm); }";
    let d = check_coverage(&h, &Intent::read(ask), untested).detail();
    assert!(d.contains("mq_open() block tests no argument"), "{d}");
    assert!(!d.contains("sys_enter_openat"), "{d}");
}

#[test]
fn a_clock_id_asked_for_is_the_calls_clock_parameter() {
    // clock_nanosleep(2) calls it `clockid`; the tracepoint records `which_clock`.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_clock_nanosleep",
        &[
            ("int", "__syscall_nr"),
            ("const clockid_t", "which_clock"),
            ("int", "flags"),
            ("const struct __kernel_timespec *", "rqtp"),
            ("struct __kernel_timespec *", "rmtp"),
        ],
    )]);
    let ask = "log clock_nanosleep sleeps with their clock ID and the program";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let without = "tracepoint:syscalls:sys_enter_clock_nanosleep { printf(\"%s\\n\", comm); }";
    assert!(check(without).contains("which_clock"), "{}", check(without));
    let with = "tracepoint:syscalls:sys_enter_clock_nanosleep { printf(\"%s %d\\n\", comm, args->which_clock); }";
    assert!(!check(with).contains("which_clock"), "{}", check(with));
}

#[test]
fn the_local_port_is_the_sockets_own_not_the_peers() {
    let request =
        "incoming connections a server takes: its pid, the client's address and the local port";
    // accept's address is the client's: its port is the remote one.
    let peer = "tracepoint:syscalls:sys_enter_accept4 { @a[tid] = args->upeer_sockaddr; }\n\
                tracepoint:syscalls:sys_exit_accept4 /@a[tid]/ { $s = (struct sockaddr_in *)@a[tid];\n\
                  printf(\"%d %s %d\\n\", pid, ntop($s->sin_addr.s_addr), bswap($s->sin_port)); delete(@a[tid]); }";
    assert!(!passes(request, peer));
    let own = "tracepoint:sock:inet_sock_set_state /args->newstate == 1/ { printf(\"%d %s %d\\n\", pid, ntop(args->daddr), args->sport); }";
    assert!(passes(request, own));
    // Asked for a port without saying whose: the peer's does.
    assert!(passes(
        "incoming connections: pid, client address and port",
        peer
    ));
}

#[test]
fn a_parameter_asked_by_its_man_page_name_must_be_reported() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_mount",
        &[
            ("int", "__syscall_nr"),
            ("char *", "dev_name"),
            ("char *", "dir_name"),
            ("char *", "type"),
            ("unsigned long", "flags"),
            ("void *", "data"),
        ],
    )]);
    let request = "Show each filesystem mount with its source and target, and the process name.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let without = check(
        "tracepoint:syscalls:sys_enter_mount { printf(\"%s %s\\n\", comm, str(args->dir_name)); }",
    );
    assert!(!without.passed());
    let said = format!("{:?}", without.evidence);
    assert!(
        said.contains("`args->dev_name` (mount(2) calls it source)"),
        "{said}"
    );
    assert!(!said.contains("calls it target"), "{said}");
    assert!(check(
        "tracepoint:syscalls:sys_enter_mount { printf(\"%s %s %s\\n\", comm, str(args->dev_name), str(args->dir_name)); }",
    )
    .passed());
    // "name" in "process name" is no parameter asked for.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_memfd_create",
        &[
            ("int", "__syscall_nr"),
            ("const char *", "uname"),
            ("unsigned int", "flags"),
        ],
    )]);
    assert!(check_coverage(
        &h,
        &Intent::read("memfd_create: who makes one (the process name)?"),
        "tracepoint:syscalls:sys_enter_memfd_create { printf(\"%s\\n\", comm); }",
    )
    .passed());
}

#[test]
fn a_command_line_where_programs_start_is_their_argv() {
    let ask = "log each program launched, with its whole command line";
    assert!(!passes(
        ask,
        "tracepoint:sched:sched_process_exec { printf(\"%s %d\\n\", comm, pid); }"
    ));
    assert!(passes(
        ask,
        "tracepoint:syscalls:sys_enter_execve { printf(\"%s %s\\n\", comm, join(args->argv)); }"
    ));
}

#[test]
fn a_flag_named_as_c_writes_it_is_tested_where_the_call_has_it() {
    let ask = "who opens files with O_TRUNC, and which files";
    let creat_only =
        "tracepoint:syscalls:sys_enter_creat { printf(\"%s %s\\n\", comm, str(args->pathname)); }";
    assert!(!passes(ask, creat_only));
    let untested =
        "tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }";
    assert!(!passes(ask, untested));
    let tested = "tracepoint:syscalls:sys_enter_openat /(args->flags & 512) != 0/ { printf(\"%s %s\\n\", comm, str(args->filename)); }";
    assert!(passes(ask, tested));
    let octal = "tracepoint:syscalls:sys_enter_openat { if (args->flags & 01000) { printf(\"%s %s\\n\", comm, str(args->filename)); } }";
    assert!(passes(ask, octal));
}

#[test]
fn a_flag_other_calls_take_too_is_tested_at_them() {
    // pipe2(2) takes O_NONBLOCK in its own `flags`: a test there is the flag's test.
    let ask = "which programs make O_NONBLOCK pipes";
    let at_pipe2 =
        "tracepoint:syscalls:sys_enter_pipe2 /args->flags & 0x800/ { @[comm] = count(); }";
    assert!(passes(ask, at_pipe2));
    let untested = "tracepoint:syscalls:sys_enter_pipe2 { @[comm] = count(); }";
    assert!(!passes(ask, untested));
}

#[test]
fn a_value_named_as_c_writes_it_is_tested_where_it_is_reported() {
    let ask = "tell me who asks for the SCHED_RR policy, and for which task";
    let switches = "tracepoint:sched:sched_switch /args->next_prio == 2/ { printf(\"%s %d\\n\", comm, args->next_pid); }";
    let c = check_coverage(&host(), &Intent::read(ask), switches);
    assert!(
        !c.passed() && c.detail().contains("SCHED_RR"),
        "{}",
        c.detail()
    );
    let untested = "tracepoint:syscalls:sys_enter_sched_setscheduler { printf(\"%s %d\\n\", comm, args->pid); }";
    assert!(!passes(ask, untested));
    let tested = "tracepoint:syscalls:sys_enter_sched_setscheduler /args->policy == 2/ { printf(\"%s %d\\n\", comm, args->pid); }";
    assert!(passes(ask, tested));
    // An event the call fires observes its value there (prctl(2) PR_SET_NAME: task_rename).
    let ask = "which threads call PR_SET_NAME, and what do they become";
    let renames =
        "tracepoint:task:task_rename { printf(\"%s %s\\n\", args->oldcomm, args->newcomm); }";
    let c = check_coverage(&host(), &Intent::read(ask), renames);
    assert!(!c.detail().contains("PR_SET_NAME"), "{}", c.detail());
}

#[test]
fn a_constant_of_the_hosts_headers_is_tested_with_its_value() {
    // F_OFD_SETLK is 37 in <fcntl.h> (fcntl(2)); specs-db does not document it.
    let ask = "which programs take open file description locks with F_OFD_SETLK";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src);
    let untested = "tracepoint:syscalls:sys_enter_fcntl { @[comm] = count(); }";
    let c = check(untested);
    assert!(
        !c.passed() && c.detail().contains("F_OFD_SETLK, which is 37"),
        "{}",
        c.detail()
    );
    let invented = "tracepoint:syscalls:sys_enter_fcntl /args->cmd == 6/ { @[comm] = count(); }";
    assert!(check(invented).detail().contains("F_OFD_SETLK"));
    let of_a_builtin = "tracepoint:syscalls:sys_enter_fcntl /uid == 37/ { @[comm] = count(); }";
    assert!(check(of_a_builtin).detail().contains("F_OFD_SETLK"));
    for tested in [
        "tracepoint:syscalls:sys_enter_fcntl /args->cmd == 37/ { @[comm] = count(); }",
        "tracepoint:syscalls:sys_enter_fcntl /0x25 == args->cmd/ { @[comm] = count(); }",
        "tracepoint:syscalls:sys_enter_fcntl { $c = args->cmd; if ($c == 37) { @[comm] = count(); } }",
    ] {
        assert!(!check(tested).detail().contains("F_OFD_SETLK"), "{tested}");
    }
    // A flag of mlockall(2): a mask test is its test; MCL_ONFAULT is 4.
    let ask = "report processes that lock their memory with MCL_ONFAULT";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src);
    let masked = "tracepoint:syscalls:sys_enter_mlockall /args->flags & 4/ { printf(\"%s %d\\n\", comm, pid); }";
    assert!(!check(masked).detail().contains("MCL_ONFAULT"));
    let other_bit = "tracepoint:syscalls:sys_enter_mlockall /args->flags & 2/ { printf(\"%s %d\\n\", comm, pid); }";
    assert!(check(other_bit).detail().contains("MCL_ONFAULT"));
}

#[test]
fn a_threshold_of_what_calls_return_is_compared_with_the_result() {
    let ask = "print the recvmsg calls that return more than 2 KiB, with the process name";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src);
    let of_the_buffer =
        "tracepoint:syscalls:sys_enter_recvmsg /args->flags > 2048/ { printf(\"%s\\n\", comm); }";
    let c = check(of_the_buffer);
    assert!(
        c.detail().contains("of what the calls return"),
        "{}",
        c.detail()
    );
    let of_the_result = "tracepoint:syscalls:sys_exit_recvmsg /args->ret > 2048/ { printf(\"%s %d\\n\", comm, args->ret); }";
    let c = check(of_the_result);
    assert!(
        !c.detail().contains("of what the calls return"),
        "{}",
        c.detail()
    );
    // A threshold of an argument is not this rule's business.
    let ask = "print recvmsg calls whose flags exceed 2048, with the process name";
    let c = check_coverage(&host(), &Intent::read(ask), of_the_buffer);
    assert!(
        !c.detail().contains("of what the calls return"),
        "{}",
        c.detail()
    );
}

#[test]
fn a_named_call_is_not_observed_by_an_unrelated_event() {
    // madvise(2) fires no tracepoint of its own that the specs know: a page fault is not it.
    let ask = "tally madvise use per program";
    let faults = "tracepoint:exceptions:page_fault_user { @[comm] = count(); }";
    let c = check_coverage(&host(), &Intent::read(ask), faults);
    assert!(
        !c.passed() && c.detail().contains("madvise"),
        "{}",
        c.detail()
    );
    let at_call = "tracepoint:syscalls:sys_enter_madvise { @[comm] = count(); }";
    assert!(passes(ask, at_call));
}

#[test]
fn an_address_is_not_compared_with_a_size() {
    let host = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_recvmsg",
            &[
                ("int", "fd"),
                ("struct user_msghdr *", "msg"),
                ("unsigned int", "flags"),
            ],
        ),
        ("syscalls", "sys_exit_recvmsg", &[("long", "ret")]),
    ]);
    let ask = "which programs receive messages of over 4096 bytes in one recvmsg call";
    let on_pointer =
        "tracepoint:syscalls:sys_enter_recvmsg /args->msg > 4096/ { @[comm] = count(); }";
    let c = check_coverage(&host, &Intent::read(ask), on_pointer);
    assert!(
        !c.passed() && c.detail().contains("pointer"),
        "{}",
        c.detail()
    );
    // A null check is sound, and the result is no pointer.
    let null = "tracepoint:syscalls:sys_enter_recvmsg /args->msg != 0/ { @[comm] = count(); }";
    assert!(!check_coverage(&host, &Intent::read(ask), null)
        .detail()
        .contains("pointer"));
    let on_ret = "tracepoint:syscalls:sys_exit_recvmsg /args->ret > 4096/ { @[comm] = count(); }";
    assert!(!check_coverage(&host, &Intent::read(ask), on_ret)
        .detail()
        .contains("pointer"));
}

#[test]
fn the_size_of_a_parameter_is_not_the_parameter() {
    let host = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_sched_setaffinity",
        &[
            ("pid_t", "pid"),
            ("unsigned int", "len"),
            ("unsigned long *", "user_mask_ptr"),
        ],
    )]);
    let program = "tracepoint:syscalls:sys_enter_sched_setaffinity { printf(\"%s %d %d\\n\", comm, args->pid, args->len); }";
    let size =
        "list sched_setaffinity() calls with their caller, which pid they pin and the mask size";
    let c = check_coverage(&host, &Intent::read(size), program);
    assert!(!c.detail().contains("user_mask_ptr"), "{}", c.detail());
    let mask =
        "list sched_setaffinity() calls with their caller, which pid they pin and the new mask";
    let c = check_coverage(&host, &Intent::read(mask), program);
    assert!(c.detail().contains("user_mask_ptr"), "{}", c.detail());
}

#[test]
fn an_error_code_an_event_carries_is_the_error_code_asked() {
    let host = HostFacts::for_tests_with_tracepoints(&[(
        "exceptions",
        "page_fault_user",
        &[
            ("unsigned long", "address"),
            ("unsigned long", "ip"),
            ("unsigned long", "error_code"),
        ],
    )]);
    let ask = "log user page faults with the faulting address and the error code";
    let with = "tracepoint:exceptions:page_fault_user { printf(\"%lx %lx\\n\", args->address, args->error_code); }";
    let c = check_coverage(&host, &Intent::read(ask), with);
    assert!(c.passed(), "{}", c.detail());
    let without = "tracepoint:exceptions:page_fault_user { printf(\"%lx\\n\", args->address); }";
    assert!(!check_coverage(&host, &Intent::read(ask), without).passed());
}

#[test]
fn the_parents_name_is_not_the_process_name() {
    let ask = "for each accepted connection, the accepting process's name";
    assert!(!passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s\\n\", curtask->real_parent->comm); }",
    ));
    assert!(passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s %s\\n\", comm, curtask->real_parent->comm); }",
    ));
}

#[test]
fn a_variable_named_like_a_value_does_not_provide_it() {
    let ask = "print the accepting process's PID for each accepted connection";
    assert!(!passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { $pid = args->ret; printf(\"%d\\n\", $pid); }",
    ));
    assert!(!passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { @pid = args->ret; printf(\"%d\\n\", @pid); }",
    ));
    // A per-thread key of a map the program deletes from reaches no output.
    assert!(!passes(
        ask,
        "tracepoint:syscalls:sys_enter_accept4 { @fd[tid] = args->fd; }\n\
         tracepoint:syscalls:sys_exit_accept4 /@fd[tid]/ { printf(\"%d\\n\", @fd[tid]); delete(@fd[tid]); }",
    ));
    // A tally keyed by it shows it.
    assert!(passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { @calls[tid] = count(); }",
    ));
    assert!(passes(
        ask,
        "tracepoint:syscalls:sys_exit_accept4 { $who = pid; printf(\"%d\\n\", $who); }",
    ));
}

#[test]
fn the_acted_on_task_is_reported_for_every_event_that_names_it() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_kill",
            &[("int", "__syscall_nr"), ("pid_t", "pid"), ("int", "sig")],
        ),
        (
            "syscalls",
            "sys_enter_tgkill",
            &[
                ("int", "__syscall_nr"),
                ("pid_t", "tgid"),
                ("pid_t", "pid"),
                ("int", "sig"),
            ],
        ),
    ]);
    let ask = Intent::read("for kill and tgkill, which pid is the targeted process");
    let check = |src: &str| check_coverage(&h, &ask, src);
    // The target of tgkill, but the caller of kill.
    let half = check(
        "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", pid, args->sig); }\n\
         tracepoint:syscalls:sys_enter_tgkill { printf(\"%d %d\\n\", args->tgid, args->sig); }",
    );
    assert!(!half.passed());
    let said = format!("{:?}", half.evidence);
    assert!(said.contains("of syscalls:sys_enter_kill"), "{said}");
    assert!(!said.contains("of syscalls:sys_enter_tgkill"), "{said}");
    assert!(check(
        "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }\n\
         tracepoint:syscalls:sys_enter_tgkill { printf(\"%d %d\\n\", args->tgid, args->sig); }",
    )
    .passed());
    // Read in the condition of an `if` only, it is not reported.
    assert!(!check(
        "tracepoint:syscalls:sys_enter_kill { if (args->pid > 0) { printf(\"%d\\n\", pid); } }",
    )
    .passed());
}

#[test]
fn what_a_call_fills_in_is_not_read_at_its_entry() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_accept4",
        &[
            ("int", "__syscall_nr"),
            ("int", "fd"),
            ("struct sockaddr *", "upeer_sockaddr"),
            ("int *", "upeer_addrlen"),
            ("int", "flags"),
        ],
    )]);
    let ask = Intent::read("peers whose connections servers take in");
    let early = check_coverage(
        &h,
        &ask,
        "tracepoint:syscalls:sys_enter_accept4 { printf(\"%s\\n\", ntop(((struct sockaddr_in *)args->upeer_sockaddr)->sin_addr.s_addr)); }",
    );
    assert!(!early.passed());
    let said = format!("{:?}", early.evidence);
    assert!(
        said.contains("accept4(2) fills in what args->upeer_sockaddr points to"),
        "{said}"
    );
    // Saving the pointer for the return is how it is done.
    assert!(check_coverage(
        &h,
        &ask,
        "tracepoint:syscalls:sys_enter_accept4 { @a[tid] = args->upeer_sockaddr; }",
    )
    .passed());
}

#[test]
fn a_span_start_subtracted_unchecked_is_flagged() {
    let unchecked = "tracepoint:sched:sched_process_wait { @t0[tid] = nsecs; }\ntracepoint:sched:sched_switch { @late[tid] = nsecs; @waited[comm] = sum((@late[tid] - @t0[tid]) / 1000); }";
    let m = span_start_unchecked(unchecked).expect("flagged");
    assert!(m.contains("@t0") && m.contains("time since boot"), "{m}");
    // Tested in the predicate, around the subtraction, or through a tested variable.
    for ok in [
        "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@t0[tid]/ { @us = hist((nsecs - @t0[tid]) / 1000); delete(@t0[tid]); }",
        "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { if (@t0[tid] != 0) { @us = hist(nsecs - @t0[tid]); } }",
        "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { $s = @t0[tid]; if ($s) { @us = hist(nsecs - @t0[tid]); } }",
        "tracepoint:syscalls:sys_enter_read { @t0[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read { $s = @t0[tid]; $d = $s ? nsecs - @t0[tid] : 0; @us = hist($d); }",
        // Not a clock: a byte count subtracted is no span.
        "tracepoint:syscalls:sys_exit_read { @left[tid] = 5; @b = sum(10 - @left[tid]); }",
    ] {
        assert_eq!(span_start_unchecked(ok), None, "{ok}");
    }
}

#[test]
fn a_span_stored_and_read_at_one_event_measures_nothing() {
    let one = "tracepoint:block:block_rq_issue { @t[tid] = nsecs; }\n\
               t:block:block_rq_issue /@t[tid]/ { @us = hist((nsecs - @t[tid]) / 1000); delete(@t[tid]); }";
    let states = "tracepoint:sock:inet_sock_set_state { if (args->newstate == 1) { @born[args->skaddr] = nsecs; } if (args->newstate == 7 && @born[args->skaddr]) { printf(\"%d\\n\", (nsecs - @born[args->skaddr]) / 1000000); } }";
    assert_eq!(span_within_one_event(states), None, "one state to another");
    let m = span_within_one_event(one).expect("flagged");
    assert!(m.contains("block:block_rq_issue"), "{m}");
    assert!(!passes("how long do block requests take", one));
    let two = "tracepoint:block:block_rq_issue { @t[args->dev, args->sector] = nsecs; }\n\
               tracepoint:block:block_rq_complete /@t[args->dev, args->sector]/ { @us = hist((nsecs - @t[args->dev, args->sector]) / 1000); }";
    assert_eq!(span_within_one_event(two), None);
    // Keyed by different tasks at one event: a span from one's switch to the other's.
    let switch = "tracepoint:sched:sched_switch { if (@s[cpu, args->prev_pid]) { @t = sum(nsecs - @s[cpu, args->prev_pid]); } @s[cpu, args->next_pid] = nsecs; }";
    assert_eq!(span_within_one_event(switch), None);
}

#[test]
fn a_request_about_the_task_acted_on_needs_the_field_that_names_it() {
    use crate::host::{Field, Tracepoint};
    let mut h = host();
    for (system, event, fields) in [
        ("syscalls", "sys_enter_kill", &["pid", "sig"][..]),
        ("signal", "signal_deliver", &["sig", "errno", "code"][..]),
    ] {
        h.tracepoints.insert(
            format!("{system}:{event}"),
            Tracepoint {
                subsystem: system.into(),
                event: event.into(),
                fields: fields
                    .iter()
                    .map(|f| Field {
                        ctype: "int".into(),
                        name: (*f).into(),
                        ..Default::default()
                    })
                    .collect(),
            },
        );
    }
    let ask = Intent::read("show the pid of each process being killed, and the signal");
    let caller = "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", pid, args->sig); }";
    let c = check_coverage(&h, &ask, caller);
    assert!(!c.passed(), "{}", c.detail());
    assert!(
        c.detail()
            .contains("`args->pid` of syscalls:sys_enter_kill"),
        "{}",
        c.detail()
    );
    let target =
        "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }";
    assert!(check_coverage(&h, &ask, target).passed());
    // A filter on the field is not a report of it.
    let filtered = "tracepoint:syscalls:sys_enter_kill /args->pid > 0/ { printf(\"%d\\n\", pid); }";
    assert!(!check_coverage(&h, &ask, filtered).passed());
    // The acted-on task's name is reported too where the event carries it.
    let mut h2 = h.clone();
    if let Some(tp) = h2.tracepoints.get_mut("syscalls:sys_enter_kill") {
        tp.fields.push(Field {
            ctype: "char[16]".into(),
            name: "comm".into(),
            ..Default::default()
        });
    }
    let by_name =
        "tracepoint:syscalls:sys_enter_kill { printf(\"%s %d\\n\", args->comm, args->sig); }";
    let named = Intent::read("show the name of each process being killed, and the signal");
    let c = check_coverage(&h2, &named, by_name);
    assert!(c.passed(), "{}", c.detail());
    // Where the acted-on task runs the probe (a signal being delivered), `pid` is it.
    let delivered = "tracepoint:signal:signal_deliver { printf(\"%d %d\\n\", pid, args->sig); }";
    assert!(check_coverage(&h, &ask, delivered).passed());
    // A request about the caller demands nothing of the kind.
    let callers = Intent::read("show the pid of each process that calls kill");
    assert!(check_coverage(&h, &callers, caller).passed());
}

#[test]
fn new_threads_are_told_apart_from_new_processes() {
    let ask = Intent::read("show every new thread with the process that started it");
    let every_fork =
        "tracepoint:sched:sched_process_fork { printf(\"%s %d\\n\", comm, args->child_pid); }";
    let c = check_coverage(&host(), &ask, every_fork);
    assert!(
        !c.passed() && c.detail().contains("CLONE_THREAD"),
        "{}",
        c.detail()
    );
    let threads = "tracepoint:task:task_newtask /args->clone_flags & 0x10000/ { printf(\"%s %d\\n\", comm, args->pid); }";
    assert!(check_coverage(&host(), &ask, threads).passed());
    // One block keeping threads does not excuse another printing every new task.
    let mixed = format!("{threads}\n{every_fork}");
    let c = check_coverage(&host(), &ask, &mixed);
    assert!(
        !c.passed() && c.detail().contains("sched:sched_process_fork"),
        "{}",
        c.detail()
    );
    // The flag in a comment or a string is no test of it.
    let commented = "// CLONE_THREAD\ntracepoint:sched:sched_process_fork { printf(\"0x10000 %d\\n\", args->child_pid); }";
    assert!(!check_coverage(&host(), &ask, commented).passed());
    // New processes are not asked to be threads.
    let procs = Intent::read("show every new process with its parent");
    assert!(check_coverage(&host(), &procs, every_fork).passed());
    // The ID asked with new threads is the new thread's, not its creator's `pid`/`tid`.
    let ids = Intent::read("log new threads as they start: their ID and the creating program");
    let creator = "tracepoint:task:task_newtask /args->clone_flags & 0x10000/ { printf(\"%s %d\\n\", comm, tid); }";
    let c = check_coverage(&host(), &ids, creator);
    assert!(
        !c.passed() && c.detail().contains("new task's ID"),
        "{}",
        c.detail()
    );
    assert!(check_coverage(&host(), &ids, threads).passed());
}

#[test]
fn the_child_seen_from_forks_return_is_a_positive_result() {
    let ask = Intent::read("log each new process: who started it and the child's pid");
    // fork(2) returns 0 in the child and -errno on failure: neither is a new task.
    let every_return =
        "tracepoint:syscalls:sys_exit_fork { printf(\"%s %d\\n\", comm, args->ret); }";
    let c = check_coverage(&host(), &ask, every_return);
    assert!(
        !c.passed() && c.detail().contains("args->ret > 0"),
        "{}",
        c.detail()
    );
    let parents = "tracepoint:syscalls:sys_exit_fork /args->ret > 0/ { printf(\"%s %d\\n\", comm, args->ret); }";
    let c = check_coverage(&host(), &ask, parents);
    assert!(c.passed(), "{}", c.detail());
    let in_if = "tracepoint:syscalls:sys_exit_fork { if (args->ret >= 1) { printf(\"%s %d\\n\", comm, args->ret); } }";
    let c = check_coverage(&host(), &ask, in_if);
    assert!(c.passed(), "{}", c.detail());
}

#[test]
fn a_value_asked_per_event_is_not_answered_by_the_last_one_stored() {
    let ask = Intent::read("log each new process with the parent's name and the child's pid");
    // The parent's name only in a map nothing reads: printed once, at the end.
    let stored = "tracepoint:sched:sched_process_fork { @parent = comm; printf(\"%d\\n\", args->child_pid); }";
    let c = check_coverage(&host(), &ask, stored);
    assert!(!c.passed(), "{}", c.detail());
    let printed =
        "tracepoint:sched:sched_process_fork { printf(\"%s %d\\n\", comm, args->child_pid); }";
    let c = check_coverage(&host(), &ask, printed);
    assert!(c.passed(), "{}", c.detail());
}

#[test]
fn syscalls_in_general_are_all_of_them() {
    let ask = Intent::read("count failed system calls per process");
    let some = "tracepoint:syscalls:sys_exit_read /args->ret < 0/ { @[comm] = count(); }";
    let c = check_coverage(&host(), &ask, some);
    assert!(
        !c.passed() && c.detail().contains("raw_syscalls"),
        "{}",
        c.detail()
    );
    for all in [
        "tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { @[comm] = count(); }",
        "tracepoint:syscalls:sys_exit_* /args->ret < 0/ { @[comm] = count(); }",
    ] {
        assert!(check_coverage(&host(), &ask, all).passed(), "{all}");
    }
    // A request that names its syscall is about that one.
    let named = Intent::read("count failed system calls to bind() per process");
    let bind = "tracepoint:syscalls:sys_exit_bind /args->ret < 0/ { @[comm] = count(); }";
    assert!(check_coverage(&host(), &named, bind).passed());
}

#[test]
fn a_flag_spoken_of_in_words_is_read_where_it_is_reported() {
    let ask = "files that programs open for writing, with their names";
    let every = "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)); }";
    let c = check_coverage(&host(), &Intent::read(ask), every);
    assert!(
        !c.passed() && c.detail().contains("O_WRONLY 0x1"),
        "{}",
        c.detail()
    );
    let tested = "tracepoint:syscalls:sys_enter_openat /args->flags & 3/ { printf(\"%s\\n\", str(args->filename)); }";
    assert!(passes(ask, tested));
    // Writing is O_WRONLY or O_RDWR (open(2)): one of the two bits keeps half.
    let half = "tracepoint:syscalls:sys_enter_openat /args->flags & 0x1/ { printf(\"%s\\n\", str(args->filename)); }";
    let c = check_coverage(&host(), &Intent::read(ask), half);
    assert!(
        !c.passed() && c.detail().contains("O_RDWR 0x2"),
        "{}",
        c.detail()
    );
    let both = "tracepoint:syscalls:sys_enter_openat /(args->flags & 1) || (2 & args->flags)/ { printf(\"%s\\n\", str(args->filename)); }";
    assert!(passes(ask, both));
    // Not spoken of: every open is what was asked.
    assert!(passes("files that programs open, with their names", every));
}

#[test]
fn events_reporting_something_else_are_left_out() {
    // power:cpu_idle fires on the way into idle and, with PWR_EVENT_EXIT, on the way out.
    let ask = "tally low-power entries of every core";
    let both = "tracepoint:power:cpu_idle { @[args->cpu_id] = count(); }";
    let c = check_coverage(&host(), &Intent::read(ask), both);
    assert!(
        !c.passed() && c.detail().contains("PWR_EVENT_EXIT"),
        "{}",
        c.detail()
    );
    for entries in [
        "tracepoint:power:cpu_idle /args->state != 4294967295/ { @[args->cpu_id] = count(); }",
        "tracepoint:power:cpu_idle /(int32)args->state != -1/ { @[args->cpu_id] = count(); }",
        "tracepoint:power:cpu_idle { if (args->state < 100) { @[args->cpu_id] = count(); } }",
    ] {
        assert!(passes(ask, entries), "{entries}");
    }
    // Asked for: the way out is what the request wants, and only that.
    let out = "tally how often each core wakes from its low-power sleep";
    assert!(!passes(out, both));
    let exits =
        "tracepoint:power:cpu_idle /args->state == 4294967295/ { @[args->cpu_id] = count(); }";
    assert!(passes(out, exits));
}

#[test]
fn every_syscall_is_not_the_one_named() {
    let ask = "tally accept() calls for each thread";
    let every = "tracepoint:raw_syscalls:sys_enter { @[tid] = count(); }";
    let c = check_coverage(&host(), &Intent::read(ask), every);
    assert!(
        !c.passed() && c.detail().contains("without testing `args->id`"),
        "{}",
        c.detail()
    );
    let mixed = "tracepoint:raw_syscalls:sys_enter { @[tid] = count(); }\ntracepoint:syscalls:sys_exit_accept { @[tid] = count(); }";
    assert!(!passes(ask, mixed));
    assert!(passes(
        ask,
        "tracepoint:raw_syscalls:sys_enter /args->id == 43/ { @[tid] = count(); }"
    ));
    assert!(passes(
        ask,
        "tracepoint:syscalls:sys_enter_accept { @[tid] = count(); }"
    ));
    // Nor is it what a request about something else asks for.
    let other = "log every entry into the kernel routine do_unlinkat";
    assert!(!passes(other, every));
    let keyed = "tracepoint:raw_syscalls:sys_enter { @[pid, args->id] = count(); }";
    assert!(!passes(other, keyed));
    assert!(passes("tally every system call by thread", every));
}

#[test]
fn a_user_function_is_asked_about_by_its_values() {
    let ask = "watch gets() in the demo binary and print every string it hands back";
    let who = "uprobe:/usr/bin/demo:gets { printf(\"%s %d\\n\", comm, pid); }";
    let c = check_coverage(&host(), &Intent::read(ask), who);
    assert!(
        !c.passed() && c.detail().contains("return value"),
        "{}",
        c.detail()
    );
    let value = "uretprobe:/usr/bin/demo:gets { printf(\"%s %s\\n\", comm, str(retval)); }";
    assert!(passes(ask, value));
    // Who called it is all that is asked.
    assert!(passes(
        "which processes call gets() in the demo binary",
        who
    ));
}

#[test]
fn what_a_user_function_returns_is_read_at_its_return() {
    let ask = "show what people type at their bash prompts";
    let prompt = "uprobe:/bin/bash:readline { printf(\"%s\\n\", str(arg0)); }";
    let c = check_coverage(&host(), &Intent::read(ask), prompt);
    assert!(
        !c.passed() && c.detail().contains("retval"),
        "{}",
        c.detail()
    );
    let line = "uretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }";
    assert!(passes(ask, line));
}

#[test]
fn a_kind_of_block_request_spoken_of_is_read_from_its_code_letters() {
    let ask = "a histogram of disk write sizes for each program";
    let all = "tracepoint:block:block_rq_issue { @[comm] = hist(args->bytes); }";
    let c = check_coverage(&host(), &Intent::read(ask), all);
    assert!(!c.passed() && c.detail().contains("rwbs"), "{}", c.detail());
    let writes = "tracepoint:block:block_rq_issue /((uint8 *)args->rwbs)[0] == 87/ { @[comm] = hist(args->bytes); }";
    assert!(passes(ask, writes));
    assert!(passes(
        "a histogram of disk request sizes for each program",
        all
    ));
    // Kept at the start of a span, read at its end: read on those events.
    let span = "tracepoint:block:block_rq_issue { @s[args->sector] = nsecs; @rw[args->sector] = args->rwbs; }\ntracepoint:block:block_rq_complete /@s[args->sector]/ { @[@rw[args->sector]] = hist(nsecs - @s[args->sector]); }";
    assert!(passes(
        "disk latency for reads and for writes, as histograms",
        span
    ));
}

#[test]
fn a_tally_is_keyed_only_by_what_the_request_groups_by() {
    let ask = "how many times is each program moved between processors";
    let extra = "tracepoint:sched:sched_migrate_task { @[str(args->comm), args->dest_cpu, args->orig_cpu] = count(); }";
    let c = check_coverage(&host(), &Intent::read(ask), extra);
    assert!(
        !c.passed() && c.detail().contains("args->dest_cpu"),
        "{}",
        c.detail()
    );
    let asked = "tracepoint:sched:sched_migrate_task { @[str(args->comm)] = count(); }";
    assert!(passes(ask, asked));
    // Keys carried from the entry are the fields they were stored from.
    let ask = "a histogram of time in pselect6 for each program";
    let carried = "tracepoint:syscalls:sys_enter_pselect6 { @s[tid] = nsecs; @inp[tid] = args->inp; }\ntracepoint:syscalls:sys_exit_pselect6 /@s[tid]/ { @h[comm, @inp[tid]] = hist(nsecs - @s[tid]); delete(@s[tid]); delete(@inp[tid]); }";
    assert!(!passes(ask, carried));
    assert_eq!(
        split_top_level("comm, f(a, b), @m[x, y]"),
        ["comm", "f(a, b)", "@m[x, y]"]
    );
}

#[test]
fn one_event_is_handled_once() {
    let twice = "tracepoint:sched:sched_process_exit { @[comm] = count(); }\ntracepoint:sched:sched_process_exit\n{\n  @[comm] = count();\n}";
    let c = check_coverage(
        &host(),
        &Intent::read("tally exiting programs by name"),
        twice,
    );
    assert!(
        !c.passed() && c.detail().contains("twice"),
        "{}",
        c.detail()
    );
    let two = "tracepoint:sched:sched_process_exit { @[comm] = count(); }\ntracepoint:sched:sched_process_exit { @n = count(); }";
    assert!(repeated_blocks(two).is_none());
}

#[test]
fn syscalls_the_request_does_not_name_are_not_traced() {
    let ask = "directories made with mkdir(), by which program";
    let both = "tracepoint:syscalls:sys_enter_mkdir, tracepoint:syscalls:sys_enter_mkdirat { printf(\"%s\\n\", comm); }";
    assert!(passes(ask, both), "mkdirat is mkdir's *at spelling");
    let extra = "tracepoint:syscalls:sys_enter_mkdir, tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }";
    let c = check_coverage(&host(), &Intent::read(ask), extra);
    assert!(
        !c.passed() && c.detail().contains("also traces openat"),
        "{}",
        c.detail()
    );
    // A program on none of the named calls is judged elsewhere (the subject check).
    let other = "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &Intent::read(ask), other)
        .detail()
        .contains("also traces"));
}

#[test]
fn the_exit_code_a_process_returned_is_its_exit_status() {
    let ask = Intent::read("each process that ends, with the exit code it returned");
    let exits = "tracepoint:sched:sched_process_exit { printf(\"%s %d\\n\", comm, curtask->exit_code >> 8); }";
    assert!(check_coverage(&host(), &ask, exits).passed());
    // A call's result is still asked where no exit status is.
    let call = Intent::read("each read and the value it returned");
    let no_ret = "tracepoint:syscalls:sys_enter_read { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &call, no_ret).passed());
}

#[test]
fn the_signal_that_killed_a_process_is_reported() {
    let ask = Intent::read("each process that ends: its exit code, or the signal that killed it");
    let code_only = "tracepoint:sched:sched_process_exit { printf(\"%s %d\\n\", comm, (curtask->exit_code >> 8) & 0xff); }";
    let c = check_coverage(&host(), &ask, code_only);
    assert!(!c.passed() && c.detail().contains("0x7f"), "{}", c.detail());
    let both = "tracepoint:sched:sched_process_exit { printf(\"%s %d %d\\n\", comm, (curtask->exit_code >> 8) & 0xff, curtask->exit_code & 0x7f); }";
    assert!(check_coverage(&host(), &ask, both).passed());
}

#[test]
fn which_call_it_was_is_told_apart() {
    let ask = Intent::read("log fsync and fdatasync calls with the pid and which call it was");
    let same = "tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }\ntracepoint:syscalls:sys_enter_fdatasync { printf(\"%d\\n\", pid); }";
    let c = check_coverage(&host(), &ask, same);
    assert!(
        !c.passed() && c.detail().contains("`probe`"),
        "{}",
        c.detail()
    );
    let shared = "tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync { printf(\"%d\\n\", pid); }";
    assert!(!check_coverage(&host(), &ask, shared).passed());
    for told in [
        "tracepoint:syscalls:sys_enter_fsync, tracepoint:syscalls:sys_enter_fdatasync { printf(\"%s %d\\n\", probe, pid); }",
        "tracepoint:syscalls:sys_enter_fsync { printf(\"fsync %d\\n\", pid); }\ntracepoint:syscalls:sys_enter_fdatasync { printf(\"fdatasync %d\\n\", pid); }",
        // One call's entry and exit are one event.
        "tracepoint:syscalls:sys_enter_fsync { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_fsync { printf(\"%d\\n\", pid); }",
    ] {
        assert!(check_coverage(&host(), &ask, told).passed(), "{told}");
    }
}

#[test]
fn a_count_is_a_tally_not_a_line_per_event() {
    let ask = Intent::read("tally the chdir calls of each user's shell, by directory");
    let lines = "tracepoint:syscalls:sys_enter_chdir { printf(\"%s\\n\", str(args->filename)); }";
    let c = check_coverage(&host(), &ask, lines);
    assert!(
        !c.passed() && c.detail().contains("count()"),
        "{}",
        c.detail()
    );
    for tally in [
        "tracepoint:syscalls:sys_enter_chdir { @[str(args->filename)] = count(); }",
        "tracepoint:syscalls:sys_enter_chdir { @n[str(args->filename)]++; }",
    ] {
        let c = check_coverage(&host(), &ask, tally);
        assert!(c.passed(), "{tally}: {}", c.detail());
    }
}

#[test]
fn which_files_wants_their_names_printed() {
    let ask = Intent::read("what files do my cron jobs truncate");
    let fds = "tracepoint:syscalls:sys_enter_ftruncate { printf(\"%s %d\\n\", comm, args->fd); }";
    let c = check_coverage(&host(), &ask, fds);
    assert!(
        !c.passed() && c.detail().contains("file name"),
        "{}",
        c.detail()
    );
    // Tested in a filter only, a name is not reported.
    let filtered = "tracepoint:syscalls:sys_enter_truncate /str(args->path) == \"/x\"/ { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &ask, filtered).passed());
    for named in [
        "tracepoint:syscalls:sys_enter_truncate { printf(\"%s %s\\n\", comm, str(args->path)); }",
        "tracepoint:syscalls:sys_enter_truncate { @p[tid] = args->path; }\ntracepoint:syscalls:sys_exit_truncate { printf(\"%s\\n\", str(@p[tid])); }",
        "uprobe:/lib/x86_64-linux-gnu/libc.so.6:truncate { printf(\"%s\\n\", str(arg0)); }",
    ] {
        let c = check_coverage(&host(), &ask, named);
        assert!(c.passed(), "{named}: {}", c.detail());
    }
}

#[test]
fn arguments_of_a_call_other_than_exec_are_its_parameters() {
    let ask = Intent::read("log every semop, its caller's name and the arguments given");
    let params = "tracepoint:syscalls:sys_enter_semop { printf(\"%s %d %d\\n\", comm, args->semid, args->nsops); }";
    assert!(check_coverage(&host(), &ask, params).passed());
    let nothing = "tracepoint:syscalls:sys_enter_semop { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &ask, nothing).passed());
    // Where a program starts, its arguments are its argv.
    let exec = Intent::read("every program started, with its arguments");
    let no_argv =
        "tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", str(args->filename)); }";
    assert!(!check_coverage(&host(), &exec, no_argv).passed());
}

#[test]
fn a_requested_sleep_is_a_duration_the_call_carries() {
    let ask = Intent::read("how long do processes ask to sleep for in nanosleep");
    let asked = "tracepoint:syscalls:sys_enter_nanosleep { $t = (struct __kernel_timespec *)args->rqtp; printf(\"%s %d\\n\", comm, uptr($t)->tv_sec); }";
    assert!(check_coverage(&host(), &ask, asked).passed());
    let count = "tracepoint:syscalls:sys_enter_nanosleep { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&host(), &ask, count).passed());
}

#[test]
fn a_time_spent_in_a_state_is_a_duration() {
    let ask = Intent::read("a histogram of the wait time each nanosleep asks for, in ms");
    let result = "tracepoint:syscalls:sys_exit_nanosleep { @ = hist(args->ret); }";
    assert!(!check_coverage(&host(), &ask, result).passed());
    let asked = "tracepoint:syscalls:sys_enter_nanosleep { $t = (struct __kernel_timespec *)args->rqtp; @ = hist(uptr($t)->tv_nsec / 1000000); }";
    assert!(check_coverage(&host(), &ask, asked).passed());
    let idle = Intent::read("print the idle times of each cpu");
    assert!(idle.asks(Concept::Duration));
    assert!(idle.subjects.iter().any(|s| s.word == "idle"), "{idle}");
    assert!(!Intent::read("print the time of each idle entry").asks(Concept::Duration));
}

#[test]
fn a_call_listed_beside_its_variant_is_its_own() {
    let h = HostFacts::for_tests_with_syscalls(&["sync", "syncfs", "fsync"]);
    let ask = Intent::read("log the calls sync, syncfs and fsync with the pid");
    let without_sync = "tracepoint:syscalls:sys_enter_syncfs, tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }";
    let c = check_coverage(&h, &ask, without_sync);
    assert!(
        !c.passed() && c.detail().contains("sys_enter_sync)"),
        "{}",
        c.detail()
    );
    let all = "tracepoint:syscalls:sys_enter_sync, tracepoint:syscalls:sys_enter_syncfs, tracepoint:syscalls:sys_enter_fsync { printf(\"%d\\n\", pid); }";
    assert!(check_coverage(&h, &ask, all).passed());
}

#[test]
fn every_block_that_prints_names_the_file_its_event_carries() {
    use crate::host::{Field, Tracepoint};
    let mut h = host();
    for (event, field) in [
        ("sys_enter_unlinkat", "pathname"),
        ("sys_enter_renameat2", "oldname"),
    ] {
        h.tracepoints.insert(
            format!("syscalls:{event}"),
            Tracepoint {
                subsystem: "syscalls".into(),
                event: event.into(),
                fields: vec![Field {
                    name: field.into(),
                    ctype: "const char *".into(),
                    ..Default::default()
                }],
            },
        );
    }
    let ask = Intent::read("which files are removed or moved, and by whom");
    let half = "tracepoint:syscalls:sys_enter_unlinkat { printf(\"%s %s\\n\", comm, str(args->pathname)); }\ntracepoint:syscalls:sys_enter_renameat2 { printf(\"%s\\n\", comm); }";
    let c = check_coverage(&h, &ask, half);
    assert!(
        !c.passed()
            && c.detail()
                .contains("tracepoint:syscalls:sys_enter_renameat2"),
        "{}",
        c.detail()
    );
    let both = "tracepoint:syscalls:sys_enter_unlinkat { printf(\"%s %s\\n\", comm, str(args->pathname)); }\ntracepoint:syscalls:sys_enter_renameat2 { printf(\"%s %s\\n\", comm, str(args->oldname)); }";
    let c = check_coverage(&h, &ask, both);
    assert!(c.passed(), "{}", c.detail());
}

#[test]
fn every_rule_compiles() {
    // A rule that does not compile would be left out silently at run time.
    for r in RULES {
        for re in [Some(r.code), r.format].into_iter().flatten() {
            assert!(Regex::new(re).is_ok(), "{}: {re}", r.what);
        }
    }
    assert_eq!(COMPILED.len(), RULES.len());
}

#[test]
fn a_neighbouring_answer_is_refused_with_what_is_missing() {
    // A latency histogram is not "how many bytes each read() returned".
    let latency = "tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@start[tid]/ { @us = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }";
    let c = check_coverage(
        &host(),
        &Intent::read("a histogram of the byte counts read() calls returned"),
        latency,
    );
    assert!(!c.passed());
    assert!(c.detail().contains("return value"), "{}", c.detail());
    let sizes = "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @bytes = hist(args->ret); }";
    assert!(passes(
        "a histogram of the byte counts read() calls returned",
        sizes
    ));
}

#[test]
fn words_in_comments_and_format_strings_do_not_count() {
    let src = "// prints the process name\ntracepoint:syscalls:sys_enter_read { printf(\"comm pid\\n\"); }";
    let c = check_coverage(
        &host(),
        &Intent::read("print the process name and PID of every read()"),
        src,
    );
    assert!(!c.passed());
    assert_eq!(c.detail().lines().count(), 2, "{}", c.detail());
    assert!(passes(
        "print the process name and PID of every read()",
        "tracepoint:syscalls:sys_enter_read { printf(\"%s %d\\n\", comm, pid); }"
    ));
}

#[test]
fn formats_and_durations() {
    let octal = "tracepoint:syscalls:sys_enter_read { printf(\"%o\\n\", args->count); }";
    assert!(passes("show the mode in octal", octal));
    assert!(!passes(
        "show the mode in octal",
        &octal.replace("%o", "%d")
    ));
    let lifetime = "tracepoint:sched:sched_process_exit { printf(\"%d\\n\", pid); }";
    assert!(!passes("how long each process lived", lifetime));
    assert!(passes(
        "how long each process lived",
        "tracepoint:sched:sched_process_exit /@born[pid]/ { $ms = (nsecs - @born[pid]) / 1000000; printf(\"%d\\n\", $ms); }"
    ));
}

#[test]
fn a_value_used_only_in_a_filter_is_not_reported() {
    let filtered = "tracepoint:syscalls:sys_enter_read { if (args->count >= 65536 && comm == \"x\") { printf(\"big read\\n\"); } }";
    let c = check_coverage(
        &host(),
        &Intent::read("warn about reads of 64 KiB or more, giving the size and process name"),
        filtered,
    );
    assert!(!c.passed());
    assert!(
        c.detail().contains("process name") && c.detail().contains("size"),
        "{}",
        c.detail()
    );
    let reported = "tracepoint:syscalls:sys_enter_read { if (args->count >= 65536) { printf(\"%s %d\\n\", comm, args->count); } }";
    assert!(passes(
        "warn about reads of 64 KiB or more, giving the size and process name",
        reported
    ));
    // A name used as a filter is what "processes named x" asks for.
    assert!(passes(
        "count syscalls of processes named 'x'",
        "tracepoint:raw_syscalls:sys_enter /comm == \"x\"/ { @[args->id] = count(); }"
    ));
}

#[test]
fn a_syscall_written_as_a_call_must_be_traced() {
    let connect = "tracepoint:syscalls:sys_enter_connect { printf(\"%s\\n\", comm); }";
    let c = check_coverage(
        &host(),
        &Intent::read("name the process behind each bind() call"),
        connect,
    );
    assert!(!c.passed());
    assert!(c.detail().contains("sys_enter_bind"), "{}", c.detail());
    // A variant counts (accept4 for accept()); library functions are not syscalls.
    let accept4 = "tracepoint:syscalls:sys_exit_accept4 { printf(\"%s\\n\", comm); }";
    assert!(passes("every accept() by process name", accept4));
    assert!(passes("processes calling malloc() by name", accept4));
    // "command line typed into bash" is no request for arguments.
    assert!(passes(
        "show every command line typed into bash",
        "uretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }"
    ));
    // Requests that ask for nothing specific pass.
    assert!(passes("trace something", connect));
}

#[test]
fn a_size_the_request_states_is_tested() {
    let request = "readers asking for over 4 MiB in one call";
    let none = "tracepoint:syscalls:sys_enter_read { printf(\"%s %d\\n\", comm, args->count); }";
    let c = check_coverage(&host(), &Intent::read(request), none);
    assert!(c.detail().contains("4194304"), "{}", c.detail());
    for fine in [
        "tracepoint:syscalls:sys_enter_read /args->count > 4194304/ { printf(\"%s\\n\", comm); }",
        "tracepoint:syscalls:sys_enter_read /args->count > 4 * 1024 * 1024/ { printf(\"%s\\n\", comm); }",
        "tracepoint:syscalls:sys_enter_read /args->count > (4 << 20)/ { printf(\"%s\\n\", comm); }",
    ] {
        assert!(passes(request, fine), "{fine}");
    }
    // A MiB is 2^20 bytes only (IEC 80000-13); an MB is read either way.
    let decimal =
        "tracepoint:syscalls:sys_enter_read /args->count > 4000000/ { printf(\"%s\\n\", comm); }";
    assert!(!passes(request, decimal));
    assert!(passes("readers asking for over 4 MB in one call", decimal));
    // Another number is no test of this one; no size stated, nothing asked.
    let off =
        "tracepoint:syscalls:sys_enter_read /args->count > 40000000/ { printf(\"%s\\n\", comm); }";
    assert!(!passes(request, off));
    // The bare number is 4 bytes, unless the program scales the value to the unit first.
    let bare = "tracepoint:syscalls:sys_enter_read /args->count > 4/ { printf(\"%s\\n\", comm); }";
    assert!(!passes(request, bare));
    let scaled = "tracepoint:syscalls:sys_enter_read /args->count / 1048576 > 4/ { printf(\"%s\\n\", comm); }";
    assert!(passes(request, scaled));
    assert!(passes("processes that read the most", none));
}

#[test]
fn a_permission_test_reads_the_mode() {
    let request = "alert when any file is made world-writable, with the process name";
    let no_mode = "tracepoint:syscalls:sys_exit_read { printf(\"%s %o\\n\", comm, args->ret); }";
    let c = check_coverage(&host(), &Intent::read(request), no_mode);
    assert!(c.detail().contains("S_IWOTH"), "{}", c.detail());
    let mode = "tracepoint:syscalls:sys_enter_read /args->mode & 2/ { printf(\"%s\\n\", comm); }";
    assert!(passes(request, mode));
}

#[test]
fn where_a_process_is_created_the_running_task_is_the_parent() {
    let h = HostFacts::for_tests_with_syscalls(&["fork", "vfork", "clone", "clone3", "read"]);
    let request = "tally the children each parent name spawns";
    let forks = "tracepoint:syscalls:sys_enter_clone,tracepoint:syscalls:sys_enter_clone3 { @[comm] = count(); }";
    assert!(check_coverage(&h, &Intent::read(request), forks).passed());
    let reads = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }";
    assert!(!check_coverage(&h, &Intent::read(request), reads).passed());
}

#[test]
fn the_parent_is_reported_when_asked_for() {
    let own = "tracepoint:syscalls:sys_enter_read { printf(\"%d %s\\n\", pid, comm); }";
    let request = "every reader with its PPID and the parent process name";
    let c = check_coverage(&host(), &Intent::read(request), own);
    assert!(c.detail().contains("the parent's PID"), "{}", c.detail());
    assert!(c.detail().contains("the parent's name"), "{}", c.detail());
    let parent = "tracepoint:syscalls:sys_enter_read { printf(\"%d %d %s\\n\", pid, curtask->real_parent->tgid, curtask->real_parent->comm); }";
    assert!(passes(request, parent));
}

#[test]
fn a_call_the_c_library_makes_through_another_syscall_is_traced_there() {
    let opens = "tracepoint:syscalls:sys_exit_openat /args->ret < 0/ { printf(\"%s\\n\", comm); }";
    let request = "list the programs whose execv() fails, by process name";
    let c = check_coverage(&host(), &Intent::read(request), opens);
    assert!(!c.passed());
    assert!(c.detail().contains("sys_enter_execve"), "{}", c.detail());
    let execs = "tracepoint:syscalls:sys_exit_execve /args->ret < 0/ { printf(\"%s\\n\", comm); }";
    assert!(passes(request, execs));
    // recv(2) documents recv beside recvfrom and recvmsg, the syscalls that perform it.
    let recvs = "tracepoint:syscalls:sys_enter_recvfrom { printf(\"%s\\n\", comm); }";
    assert!(passes("which process name calls recv() most", recvs));
    assert!(!passes("which process name calls recv() most", opens));
}

#[test]
fn both_tasks_asked_for_are_both_reported() {
    let ask = Intent::read(
        "pair every waker with the woken task: count wakeups per waker comm and woken task comm",
    );
    assert!(ask.asks(Concept::TargetTask) && ask.asks(Concept::ActingTask));
    let woken_only = "tracepoint:sched:sched_wakeup { @w[args->comm] = count(); }";
    assert!(acting_task_missing(&ask, woken_only).is_some());
    let both = "tracepoint:sched:sched_wakeup { @w[comm, args->comm] = count(); }";
    assert!(acting_task_missing(&ask, both).is_none());
    // Only the woken task asked for: the event's field is enough.
    let target = Intent::read("count wakeups per woken task comm");
    assert!(acting_task_missing(&target, woken_only).is_none());
}

#[test]
fn a_call_is_observed_by_an_event_it_fires() {
    use crate::host::{Field, Tracepoint};
    let mut h = HostFacts::for_tests_with_syscalls(&["setitimer", "alarm", "getitimer"]);
    h.tracepoints.insert(
        "timer:itimer_state".into(),
        Tracepoint {
            subsystem: "timer".into(),
            event: "itimer_state".into(),
            fields: vec![Field {
                name: "which".into(),
                ctype: "int".into(),
                ..Default::default()
            }],
        },
    );
    let on_event = "tracepoint:timer:itimer_state { printf(\"%s %d\\n\", comm, args->which); }";
    let ask = Intent::read("who arms timers with alarm() or setitimer()? print the program name");
    assert!(named_calls_missing(&h, &ask, on_event).is_none());
    // A call the event does not fire for is still missing.
    let ask = Intent::read("who reads timers with getitimer()? print the program name");
    assert!(named_calls_missing(&h, &ask, on_event).is_some());
}

#[test]
fn a_lifetime_is_not_one_calls_latency() {
    let ask = "report each scratch file's path and lifespan in ms once it is unlinked";
    let latency = "tracepoint:syscalls:sys_enter_unlinkat { @t[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_unlinkat /@t[tid]/ { printf(\"%s %d\\n\", comm, (nsecs - @t[tid]) / 1000000); delete(@t[tid]); }";
    let why = lifetime_timed_as_one_call(&Intent::read(ask), latency).expect("refused");
    assert!(why.contains("unlinkat"), "{why}");
    // Created at one event, removed at another, keyed by name: a lifetime.
    let lifetime = "tracepoint:syscalls:sys_enter_creat { @born[str(args->pathname)] = nsecs; }\ntracepoint:syscalls:sys_enter_unlinkat /@born[str(args->pathname)]/ { printf(\"%s %d\\n\", str(args->pathname), (nsecs - @born[str(args->pathname)]) / 1000000); }";
    assert!(lifetime_timed_as_one_call(&Intent::read(ask), lifetime).is_none());
    // The same latency program answers a latency request.
    assert!(lifetime_timed_as_one_call(
        &Intent::read("how long does each unlinkat() take, in ms"),
        latency
    )
    .is_none());
}

#[test]
fn a_syscall_named_by_its_name_must_be_observed() {
    let sampled = "profile:hz:99 { @[comm] = count(); }";
    let c = check_coverage(
        &host(),
        &Intent::read("who creates directories with mkdir"),
        sampled,
    );
    assert!(!c.passed());
    assert!(c.detail().contains("the mkdir syscall"), "{}", c.detail());
    assert!(c.detail().contains("sys_enter_mkdirat"), "{}", c.detail());
    let other = "tracepoint:syscalls:sys_enter_connect { @[comm] = count(); }";
    assert!(!passes("who creates directories with mkdir", other));
    let variant = "tracepoint:syscalls:sys_enter_mkdirat { @[comm] = count(); }";
    assert!(passes("who creates directories with mkdir", variant));
    // Another subsystem's tracepoint may observe it (a new process for fork).
    let sched = "tracepoint:sched:sched_process_fork { @[comm] = count(); }";
    assert!(passes("count processes made by fork per parent", sched));
    // Everyday words that are also syscall names ("read") demand nothing unless called.
    assert!(passes("how much does each process read", other));
}

#[test]
fn a_field_named_by_its_spelled_out_short_form_must_be_reported() {
    // Field names from the tracefs formats of sys_enter_tkill and sys_enter_listen.
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_tkill",
            &[("int", "__syscall_nr"), ("pid_t", "pid"), ("int", "sig")],
        ),
        (
            "syscalls",
            "sys_enter_listen",
            &[("int", "__syscall_nr"), ("int", "fd"), ("int", "backlog")],
        ),
    ]);
    let check = |request: &str, src: &str| check_coverage(&h, &Intent::read(request), src);
    let request = "Log tkill usage: which thread is targeted and what signal it gets.";
    let no_sig = check(
        request,
        "tracepoint:syscalls:sys_enter_tkill { printf(\"%d\\n\", args->pid); }",
    );
    assert!(!no_sig.passed());
    assert!(format!("{:?}", no_sig.evidence).contains("args->sig"));
    assert!(check(
        request,
        "tracepoint:syscalls:sys_enter_tkill { printf(\"%d %d\\n\", args->pid, args->sig); }"
    )
    .passed());
    let request =
        "Which sockets start listening? Give the backlog and each socket's file descriptor.";
    assert!(!check(
        request,
        "tracepoint:syscalls:sys_enter_listen { printf(\"%d\\n\", args->backlog); }"
    )
    .passed());
    assert!(check(
        request,
        "tracepoint:syscalls:sys_enter_listen { printf(\"%d %d\\n\", args->fd, args->backlog); }"
    )
    .passed());
}

#[test]
fn builtin_keys_no_word_asks_for_split_the_tally() {
    // include/trace/events/vmscan.h: mm_vmscan_wakeup_kswapd records nid, zid, order.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "vmscan",
        "mm_vmscan_wakeup_kswapd",
        &[("int", "nid"), ("int", "zid"), ("int", "order")],
    )]);
    let request = "How often is the page-reclaim daemon woken, broken down by NUMA node?";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let split =
        check("tracepoint:vmscan:mm_vmscan_wakeup_kswapd { @[comm, args->nid] = count(); }");
    assert!(!split.passed());
    assert!(format!("{:?}", split.evidence).contains("comm"));
    assert!(
        check("tracepoint:vmscan:mm_vmscan_wakeup_kswapd { @[args->nid] = count(); }").passed()
    );
    // Asked for by a word: kept.
    let by_cpu = Intent::read("How often is the page-reclaim daemon woken, per node and per CPU?");
    assert!(check_coverage(
        &h,
        &by_cpu,
        "tracepoint:vmscan:mm_vmscan_wakeup_kswapd { @[cpu, args->nid] = count(); }"
    )
    .passed());
}

#[test]
fn a_field_named_like_its_event_is_no_key_the_events_name_asks_for() {
    // sys_enter_brk's format: `unsigned long brk`.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_brk",
        &[("int", "__syscall_nr"), ("unsigned long", "brk")],
    )]);
    let check = |request: &str, src: &str| check_coverage(&h, &Intent::read(request), src);
    let request = "Tally the brk() calls that move the heap end, per program.";
    assert!(!check(
        request,
        "tracepoint:syscalls:sys_enter_brk { @[comm, args->brk] = count(); }"
    )
    .passed());
    assert!(check(
        request,
        "tracepoint:syscalls:sys_enter_brk { @[comm] = count(); }"
    )
    .passed());
    // Grouped by it in so many words: kept.
    assert!(check(
        "Tally brk() calls per program and per requested brk address.",
        "tracepoint:syscalls:sys_enter_brk { @[comm, args->brk] = count(); }"
    )
    .passed());
}

#[test]
fn a_parameter_named_is_read_at_entry_where_a_program_traces_the_exit() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_fdatasync",
            &[("int", "__syscall_nr"), ("unsigned int", "fd")],
        ),
        (
            "syscalls",
            "sys_exit_fdatasync",
            &[("int", "__syscall_nr"), ("long", "ret")],
        ),
    ]);
    let request = "For fdatasync, print what it returned and on which file descriptor.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let exit_only =
        check("tracepoint:syscalls:sys_exit_fdatasync { printf(\"%d\\n\", args->ret); }");
    assert!(!exit_only.passed());
    assert!(format!("{:?}", exit_only.evidence).contains("save it at entry"));
    assert!(check(
        "tracepoint:syscalls:sys_enter_fdatasync { @fd[tid] = args->fd; }\n\
         tracepoint:syscalls:sys_exit_fdatasync /@fd[tid]/ { printf(\"%d %d\\n\", @fd[tid], args->ret); delete(@fd[tid]); }"
    )
    .passed());
}

#[test]
fn an_error_said_in_words_is_tested_by_its_number() {
    let h = host();
    let request = "Which programs try to create a directory that already exists?";
    let intent = Intent::read(request);
    assert!(
        intent.constants.contains(&"EEXIST".to_owned()),
        "{intent:?}"
    );
    let check = |src: &str| check_coverage(&h, &intent, src);
    let any_failure =
        check("tracepoint:syscalls:sys_exit_mkdir /args->ret < 0/ { printf(\"%s\\n\", comm); }");
    assert!(!any_failure.passed());
    assert!(format!("{:?}", any_failure.evidence).contains("-17"));
    assert!(check(
        "tracepoint:syscalls:sys_exit_mkdir /args->ret == -17/ { printf(\"%s\\n\", comm); }"
    )
    .passed());
}

#[test]
fn a_port_the_request_names_is_compared_with() {
    let h = host();
    let request = "Show processes that connect() to port 5432, by name.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let every = "tracepoint:syscalls:sys_enter_connect { printf(\"%s %d\\n\", comm, bswap(((struct sockaddr_in *)args->uservaddr)->sin_port)); }";
    assert!(!check(every).passed());
    // As a host integer, or byte-swapped as sin_port holds it (5432 = 0x1538 → 0x3815).
    assert!(check("tracepoint:syscalls:sys_enter_connect /bswap(((struct sockaddr_in *)args->uservaddr)->sin_port) == 5432/ { printf(\"%s %d\\n\", comm, bswap(((struct sockaddr_in *)args->uservaddr)->sin_port)); }").passed());
    assert!(check("tracepoint:syscalls:sys_enter_connect /((struct sockaddr_in *)args->uservaddr)->sin_port == 0x3815/ { printf(\"%s %d\\n\", comm, bswap(((struct sockaddr_in *)args->uservaddr)->sin_port)); }").passed());
}

#[test]
fn one_system_wide_figure_has_no_key() {
    let h = host();
    let request = "Bytes returned by read(), summed each second over the entire system: overall.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let keyed =
        "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @b[comm] = sum(args->ret); }\n\
                 interval:s:1 { print(@b); clear(@b); }";
    assert!(!check(keyed).passed());
    let total = "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @b = sum(args->ret); }\n\
                 interval:s:1 { print(@b); clear(@b); }";
    assert!(check(total).passed(), "{:?}", check(total).evidence);
}

#[test]
fn a_verdict_is_the_events_result() {
    // include/trace/events/capability.h: cap_capable records cap and ret.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "capability",
        "cap_capable",
        &[("int", "cap"), ("int", "ret")],
    )]);
    let request = "For each privilege check, the capability and the verdict.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(!check("tracepoint:capability:cap_capable { printf(\"%d\\n\", args->cap); }").passed());
    assert!(check(
        "tracepoint:capability:cap_capable { printf(\"%d %d\\n\", args->cap, args->ret); }"
    )
    .passed());
}

#[test]
fn which_things_a_tally_answers_are_its_only_keys() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "block",
        "block_rq_issue",
        &[
            ("dev_t", "dev"),
            ("unsigned int", "bytes"),
            ("char[10]", "rwbs"),
        ],
    )]);
    let request = "Which programs send the most requests to disk?";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(!check("tracepoint:block:block_rq_issue { @[comm, args->rwbs] = count(); }").passed());
    assert!(check("tracepoint:block:block_rq_issue { @[comm] = count(); }").passed());
}

#[test]
fn a_signal_the_request_names_is_tested_by_its_number() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "signal",
        "signal_generate",
        &[("int", "sig"), ("pid_t", "pid"), ("char[16]", "comm")],
    )]);
    let request = "Who gets hung up on? Show processes receiving SIGHUP, by name.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(
        !check("tracepoint:signal:signal_generate { printf(\"%s\\n\", args->comm); }").passed()
    );
    assert!(check(
        "tracepoint:signal:signal_generate /args->sig == 1/ { printf(\"%s\\n\", args->comm); }"
    )
    .passed());
}

#[test]
fn a_period_is_no_grouping_a_key_must_answer() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "net",
        "netif_receive_skb",
        &[
            ("void *", "skbaddr"),
            ("unsigned int", "len"),
            ("__data_loc char[]", "name"),
        ],
    )]);
    let request = "Received packets, per network device, per second.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let split = "tracepoint:net:netif_receive_skb { @[comm, str(args->name)] = count(); }\n\
                 interval:s:1 { print(@); clear(@); }";
    assert!(!check(split).passed());
    let right = "tracepoint:net:netif_receive_skb { @[str(args->name)] = count(); }\n\
                 interval:s:1 { print(@); clear(@); }";
    assert!(check(right).passed(), "{:?}", check(right).evidence);
}

#[test]
fn a_request_grouping_by_nothing_keys_by_no_unnamed_field() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_pwrite64",
        &[
            ("int", "__syscall_nr"),
            ("unsigned int", "fd"),
            ("const char *", "buf"),
            ("size_t", "count"),
            ("loff_t", "pos"),
        ],
    )]);
    let request =
        "A histogram of the size of each pwrite64() call made by processes named 'httpd'.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    let per_fd = "tracepoint:syscalls:sys_enter_pwrite64 /comm == \"httpd\"/ { @[comm, args->fd] = hist(args->count); }";
    assert!(!check(per_fd).passed());
    let one = "tracepoint:syscalls:sys_enter_pwrite64 /comm == \"httpd\"/ { @[comm] = hist(args->count); }";
    assert!(check(one).passed(), "{:?}", check(one).evidence);
}

#[test]
fn a_qualified_grouping_means_the_field_that_spells_it_not_the_builtin() {
    // sched_wakeup's format has `target_cpu`; `cpu` is where the wakeup ran.
    let request = "tally task wakeups for each target cpu";
    let both = "tracepoint:sched:sched_wakeup { @w[cpu, args->target_cpu] = count(); }";
    let why = check_coverage(&host(), &Intent::read(request), both);
    assert!(!why.passed(), "{why:?}");
    let field = "tracepoint:sched:sched_wakeup { @w[args->target_cpu] = count(); }";
    assert!(passes(request, field));
    // Unqualified, the builtin is what "per cpu" means.
    let plain = "tracepoint:sched:sched_wakeup { @w[cpu] = count(); }";
    assert!(passes("tally task wakeups for each cpu", plain));
    // "parent pid" at sched_process_fork: `parent_pid`, not the builtin pid.
    let forks = "tracepoint:sched:sched_process_fork { @f[pid, args->parent_pid] = count(); }";
    assert!(!passes("how many forks per parent pid", forks));
}

#[test]
fn the_pid_a_call_acts_on_is_its_parameter_not_the_caller() {
    let mut h = HostFacts::for_tests_with_syscalls(&["sched_setaffinity"]);
    if let Some(tp) = h
        .tracepoints
        .get_mut("syscalls:sys_enter_sched_setaffinity")
    {
        tp.fields = ["pid", "len", "user_mask_ptr"]
            .map(|n| crate::host::Field {
                ctype: "long".into(),
                name: n.into(),
                ..Default::default()
            })
            .to_vec();
    }
    let request = "each sched_setaffinity() call: the caller and the pid it acts on";
    let caller =
        "tracepoint:syscalls:sys_enter_sched_setaffinity { printf(\"%d %s\\n\", pid, comm); }";
    assert!(!check_coverage(&h, &Intent::read(request), caller).passed());
    let both = "tracepoint:syscalls:sys_enter_sched_setaffinity { printf(\"%d %s %d\\n\", pid, comm, args->pid); }";
    let c = check_coverage(&h, &Intent::read(request), both);
    assert!(c.passed(), "{c:?}");
}

#[test]
fn a_parameter_pinned_to_one_value_needs_no_report() {
    let mut h = HostFacts::for_tests_with_syscalls(&["socket"]);
    if let Some(tp) = h.tracepoints.get_mut("syscalls:sys_enter_socket") {
        tp.fields = ["family", "type", "protocol"]
            .map(|n| crate::host::Field {
                ctype: "int".into(),
                name: n.into(),
                ..Default::default()
            })
            .to_vec();
    }
    // socket(2) calls `family` the domain: asked for, it must show, unless the program keeps
    // one domain only.
    let request = "sockets created per domain, with the program";
    let unshown = "tracepoint:syscalls:sys_enter_socket { printf(\"%s\\n\", comm); }";
    assert!(!check_coverage(&h, &Intent::read(request), unshown).passed());
    let pinned =
        "tracepoint:syscalls:sys_enter_socket /args->family == 1/ { printf(\"%s\\n\", comm); }";
    let c = check_coverage(
        &h,
        &Intent::read("unix domain sockets made, with the program"),
        pinned,
    );
    assert!(c.passed(), "{c:?}");
}

#[test]
fn a_stated_size_is_compared_with_the_events_size_field() {
    let mut h = HostFacts::for_tests();
    h.tracepoints.insert(
        "kmem:rss_stat".into(),
        crate::host::Tracepoint {
            subsystem: "kmem".into(),
            event: "rss_stat".into(),
            fields: [
                ("unsigned int", "curr"),
                ("int", "member"),
                ("long", "size"),
            ]
            .map(|(t, n)| crate::host::Field {
                ctype: t.into(),
                name: n.into(),
                ..Default::default()
            })
            .to_vec(),
        },
    );
    let request = Intent::read("say when a process's resident memory passes 512 MiB, with its pid");
    let flag =
        "tracepoint:kmem:rss_stat /args->curr > 512 * 1024 * 1024/ { printf(\"%d\\n\", pid); }";
    let c = check_coverage(&h, &request, flag);
    assert!(!c.passed(), "{c:?}");
    let size =
        "tracepoint:kmem:rss_stat /args->size > 512 * 1024 * 1024/ { printf(\"%d\\n\", pid); }";
    assert!(size_compared_with_another_field(&h, &request, size).is_none());
    // A number the request does not state as a size is not judged here.
    let other = "tracepoint:kmem:rss_stat /args->member == 1/ { printf(\"%d\\n\", pid); }";
    assert!(size_compared_with_another_field(&h, &request, other).is_none());
}

#[test]
fn a_syscall_named_as_what_is_counted_is_no_key() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        ("raw_syscalls", "sys_enter", &[("long", "id")]),
        (
            "raw_syscalls",
            "sys_exit",
            &[("long", "id"), ("long", "ret")],
        ),
    ]);
    let check = |request: &str, src: &str| check_coverage(&h, &Intent::read(request), src);
    let by_call =
        "tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { @[comm, args->id] = count(); }";
    let by_comm = "tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { @[comm] = count(); }";
    // "System calls" is what is counted; the grouping is by program only.
    let per_program = "Tally the system calls that fail, per program.";
    assert!(!check(per_program, by_call).passed());
    assert!(check(per_program, by_comm).passed());
    // Grouped by the call as well: `args->id` is the key, and it tells the calls apart.
    let both = "Tally failing system calls by program and by system call.";
    let c = check(both, by_call);
    assert!(c.passed(), "{:?}", c.evidence);
}

#[test]
fn a_far_side_cpu_is_the_events_field() {
    // include/trace/events/ipi.h: ipi_send_cpu records `cpu`, the CPU the IPI goes to.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "ipi",
        "ipi_send_cpu",
        &[("unsigned int", "cpu"), ("void *", "callsite")],
    )]);
    let request = "Tally cross-cpu interrupts per destination CPU.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(!check("tracepoint:ipi:ipi_send_cpu { @[cpu] = count(); }").passed());
    assert!(check("tracepoint:ipi:ipi_send_cpu { @[args->cpu] = count(); }").passed());
    let sender = "Tally cross-cpu interrupts per sending CPU.";
    assert!(check_coverage(
        &h,
        &Intent::read(sender),
        "tracepoint:ipi:ipi_send_cpu { @[cpu] = count(); }"
    )
    .passed());
}

#[test]
fn an_absolute_timer_is_its_flag() {
    // clock_nanosleep(2): TIMER_ABSTIME (1) in `flags` makes the time absolute.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_clock_nanosleep",
        &[("const clockid_t", "which_clock"), ("int", "flags")],
    )]);
    let request = "Which programs sleep until an absolute deadline with clock_nanosleep?";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(
        !check("tracepoint:syscalls:sys_enter_clock_nanosleep { printf(\"%s\\n\", comm); }")
            .passed()
    );
    assert!(check("tracepoint:syscalls:sys_enter_clock_nanosleep /args->flags & 1/ { printf(\"%s\\n\", comm); }").passed());
}

#[test]
fn a_word_of_the_events_name_is_no_key() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "ext4",
        "ext4_allocate_inode",
        &[("dev_t", "dev"), ("ino_t", "ino"), ("ino_t", "dir")],
    )]);
    let check = |request: &str, src: &str| check_coverage(&h, &Intent::read(request), src);
    let by_ino = "tracepoint:ext4:ext4_allocate_inode { @[args->ino] = count(); }";
    let total = "tracepoint:ext4:ext4_allocate_inode { @ = count(); }";
    // "Inode" says what is counted (the event), not a key.
    assert!(!check("How many ext4 inodes get allocated?", by_ino).passed());
    assert!(check("How many ext4 inodes get allocated?", total).passed());
    // Grouped by it: the key.
    assert!(check("Tally ext4 inode allocations by inode number", by_ino).passed());
}

#[test]
fn a_word_of_the_events_name_said_again_names_the_value() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "ext4",
        "ext4_allocate_inode",
        &[("dev_t", "dev"), ("ino_t", "ino"), ("ino_t", "dir")],
    )]);
    let request = "Print each ext4 inode allocation with the inode number.";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(
        !check("tracepoint:ext4:ext4_allocate_inode { printf(\"%d\\n\", args->dev); }").passed()
    );
    assert!(
        check("tracepoint:ext4:ext4_allocate_inode { printf(\"%d\\n\", args->ino); }").passed()
    );
}

#[test]
fn a_word_that_starts_the_events_one_word_name_is_no_key() {
    // include/trace/events/alarmtimer.h: alarmtimer_fired records alarm_type, expires, now.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "alarmtimer",
        "alarmtimer_fired",
        &[("unsigned char", "alarm_type"), ("s64", "expires")],
    )]);
    let check = |src: &str| check_coverage(&h, &Intent::read("How many alarm timers fire?"), src);
    assert!(
        !check("tracepoint:alarmtimer:alarmtimer_fired { @[args->alarm_type] = count(); }")
            .passed()
    );
    assert!(check("tracepoint:alarmtimer:alarmtimer_fired { @ = count(); }").passed());
}

#[test]
fn a_directory_asked_about_is_tested_as_a_path_prefix() {
    let ask = "show each unlink of a file below /run/user, and who did it";
    let equal = "tracepoint:syscalls:sys_enter_unlinkat /str(args->pathname) == \"/run/user\"/ { printf(\"%s %s\\n\", comm, str(args->pathname)); }";
    let c = check_coverage(&host(), &Intent::read(ask), equal);
    assert!(!c.passed());
    assert!(c.detail().contains("/run/user/"), "{}", c.detail());
    let prefix = "tracepoint:syscalls:sys_enter_unlinkat /strncmp(str(args->pathname), \"/run/user/\", 10) == 0/ { printf(\"%s %s\\n\", comm, str(args->pathname)); }";
    assert!(
        passes(ask, prefix),
        "{}",
        check_coverage(&host(), &Intent::read(ask), prefix).detail()
    );
}

#[test]
fn a_value_is_named_after_an_article_or_a_preposition_in_its_clause() {
    use super::fields::introduced_as_value;
    let lower = "as acks come in, show the window, with its allocation order and mode";
    assert!(!introduced_as_value(lower, "acks"));
    assert!(introduced_as_value(lower, "window"));
    assert!(introduced_as_value(lower, "order"));
    assert!(introduced_as_value(lower, "mode"));
    // A clause break ends what the article introduces.
    assert!(!introduced_as_value("print the pid, order", "order"));
}

#[test]
fn a_stated_result_must_be_tested_where_calls_return() {
    let request = "tally recvfrom() calls that return zero bytes, by process";
    let entry = "tracepoint:syscalls:sys_enter_recvfrom { @[comm] = count(); }";
    let every = "tracepoint:syscalls:sys_exit_recvfrom { @[comm] = count(); }";
    let zero = "tracepoint:syscalls:sys_exit_recvfrom /args->ret == 0/ { @[comm] = count(); }";
    let saved = "tracepoint:syscalls:sys_exit_recvfrom { $r = args->ret; if ($r == 0) { @[comm] = count(); } }";
    let c = check_coverage(&host(), &Intent::read(request), entry);
    assert!(c.detail().contains("sys_exit_recvfrom"), "{}", c.detail());
    assert!(!passes(request, every));
    assert!(passes(request, zero));
    assert!(passes(request, saved));
    // A request that keeps every result demands no test.
    assert!(passes("tally recvfrom() calls by process", every));
}

#[test]
fn events_shown_with_their_values_are_lines_not_separate_tallies() {
    let request = "Trace mkdir() calls with the path and the mode";
    let tallies = "tracepoint:syscalls:sys_enter_mkdir { @p[str(args->pathname)] = count(); @m[args->mode] = count(); }";
    let lines = "tracepoint:syscalls:sys_enter_mkdir { printf(\"%s %o\\n\", str(args->pathname), args->mode); }";
    let c = check_coverage(&host(), &Intent::read(request), tallies);
    assert!(c.detail().contains("only tallies"), "{}", c.detail());
    assert!(passes(request, lines));
    // Counting asked: tallies are the answer.
    assert!(passes(
        "count mkdir() calls per path and mode",
        "tracepoint:syscalls:sys_enter_mkdir { @[str(args->pathname), args->mode] = count(); }"
    ));
}

#[test]
fn two_values_of_a_kind_asked_are_both_shown() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_kcmp",
        &[
            ("pid_t", "pid1"),
            ("pid_t", "pid2"),
            ("int", "type"),
            ("unsigned long", "idx1"),
            ("unsigned long", "idx2"),
        ],
    )]);
    let ask = Intent::read("log kcmp() with both pids it compares");
    let one = "tracepoint:syscalls:sys_enter_kcmp { printf(\"%d %d\\n\", pid, args->pid1); }";
    let c = check_coverage(&h, &ask, one);
    assert!(c.detail().contains("args->pid2"), "{}", c.detail());
    let both =
        "tracepoint:syscalls:sys_enter_kcmp { printf(\"%d %d\\n\", args->pid1, args->pid2); }";
    let c = check_coverage(&h, &ask, both);
    assert!(c.passed(), "{}", c.detail());
    // One asked: one is enough.
    let single = Intent::read("log kcmp() with the first pid");
    assert!(check_coverage(&h, &single, one).passed());
}

#[test]
fn a_path_under_another_name_is_a_file_name() {
    let ask = Intent::read("show quotactl() calls with the path of the quota device");
    let special =
        "tracepoint:syscalls:sys_enter_quotactl { printf(\"%s\\n\", str(args->special)); }";
    let c = check_coverage(&host(), &ask, special);
    assert!(c.passed(), "{}", c.detail());
    let cmd = "tracepoint:syscalls:sys_enter_quotactl { printf(\"%d\\n\", args->cmd); }";
    assert!(!check_coverage(&host(), &ask, cmd).passed());
}

#[test]
fn a_value_the_specs_say_a_field_holds_is_recorded_there() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "sock",
            "sock_exceed_buf_limit",
            &[("char[32]", "name"), ("long", "allocated"), ("int", "kind")],
        ),
        (
            "sock",
            "inet_sock_set_state",
            &[("__u16", "protocol"), ("int", "newstate")],
        ),
    ]);
    let ask = Intent::read("tally memory pressure events on sockets, split by the protocol");
    let by_name = "tracepoint:sock:sock_exceed_buf_limit { @[args->name] = count(); }";
    let c = check_coverage(&h, &ask, by_name);
    assert!(!c.detail().contains("does not record"), "{}", c.detail());
    // Another field is not taken for it: the diagnostic names the one that is.
    let by_kind = "tracepoint:sock:sock_exceed_buf_limit { @[args->kind] = count(); }";
    let c = check_coverage(&h, &ask, by_kind);
    assert!(
        !c.passed() && c.detail().contains("`args->name`"),
        "{}",
        c.detail()
    );
}

#[test]
fn a_path_that_ends_a_clause_is_a_path_shown() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "cgroup",
        "cgroup_mkdir",
        &[
            ("int", "root"),
            ("u64", "id"),
            ("__data_loc char[]", "path"),
        ],
    )]);
    let ask = Intent::read("trace new control groups, with the group path");
    let cpu = "tracepoint:cgroup:cgroup_mkdir { printf(\"%d\\n\", cpu); }";
    assert!(!check_coverage(&h, &ask, cpu).passed());
    let path = "tracepoint:cgroup:cgroup_mkdir { printf(\"%s\\n\", str(args->path)); }";
    let c = check_coverage(&h, &ask, path);
    assert!(c.passed(), "{}", c.detail());
    // A code path is a stack, not a name.
    assert!(!Intent::read("show the kernel code path").asks(Concept::FileName));
}

#[test]
fn a_value_stored_and_never_read_reports_nothing() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        ("syscalls", "sys_enter_sched_setparam", &[("pid_t", "pid")]),
        ("syscalls", "sys_exit_sched_setparam", &[("long", "ret")]),
    ]);
    let ask = Intent::read("sched_setparam calls with the targeted process");
    let dropped = "tracepoint:syscalls:sys_enter_sched_setparam { @t[tid] = args->pid; }\n\
                   tracepoint:syscalls:sys_exit_sched_setparam { printf(\"%d %d\\n\", pid, args->ret); delete(@t[tid]); }";
    assert!(!check_coverage(&h, &ask, dropped).passed());
    let printed = "tracepoint:syscalls:sys_enter_sched_setparam { @t[tid] = args->pid; }\n\
                   tracepoint:syscalls:sys_exit_sched_setparam { printf(\"%d %d\\n\", @t[tid], args->ret); delete(@t[tid]); }";
    let c = check_coverage(&h, &ask, printed);
    assert!(c.passed(), "{}", c.detail());
    // Tested, but never printed: a guard shows none of its values.
    let guarded = "tracepoint:syscalls:sys_enter_sched_setparam { @t[tid] = args->pid; }\n\
                   tracepoint:syscalls:sys_exit_sched_setparam /@t[tid] != 0/ { if (@t[tid] > 1) { printf(\"%d %d\\n\", pid, args->ret); } delete(@t[tid]); }";
    assert!(!check_coverage(&h, &ask, guarded).passed());
    // A tally is printed at the end: not a dead store.
    assert!(unread_maps(
        "tracepoint:syscalls:sys_enter_sched_setparam { @n[args->pid] = count(); }"
    )
    .is_empty());
}

#[test]
fn a_call_site_the_event_records_answers_per_call_site() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "kmem",
        "kfree",
        &[("unsigned long", "call_site"), ("const void *", "ptr")],
    )]);
    let ask = Intent::read("tally kfree() by call site");
    let by_site = "tracepoint:kmem:kfree { @[ksym(args->call_site)] = count(); }";
    let c = check_coverage(&h, &ask, by_site);
    assert!(c.passed(), "{}", c.detail());
    let plain = "tracepoint:kmem:kfree { @ = count(); }";
    assert!(!check_coverage(&h, &ask, plain).passed());
}

#[test]
fn a_socket_descriptor_is_the_calls_sockfd_whatever_the_tracepoint_calls_it() {
    // getsockname(2): `int sockfd`; its tracepoint records `fd`.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_getsockname",
        &[
            ("int", "__syscall_nr"),
            ("int", "fd"),
            ("struct sockaddr *", "usockaddr"),
            ("int *", "usockaddr_len"),
        ],
    )]);
    let check = |request: &str, src: &str| check_coverage(&h, &Intent::read(request), src);
    let bare = "tracepoint:syscalls:sys_enter_getsockname { printf(\"%s\\n\", comm); }";
    let with_fd =
        "tracepoint:syscalls:sys_enter_getsockname { printf(\"%s %d\\n\", comm, args->fd); }";
    let request = "list getsockname() calls: which program, and on which socket descriptor";
    let without = check(request, bare);
    assert!(!without.passed());
    let said = format!("{:?}", without.evidence);
    assert!(said.contains("socket file descriptor"), "{said}");
    assert!(check(request, with_fd).passed());
    // "socket" alone names what is observed, not the descriptor.
    assert!(check("list getsockname() calls on any socket, by program", bare).passed());
}

#[test]
fn a_timers_address_is_the_pointer_its_events_record() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "timer",
        "hrtimer_cancel",
        &[("void *", "hrtimer")],
    )]);
    let request = "print the address of every high-resolution timer that gets cancelled";
    let check = |src: &str| check_coverage(&h, &Intent::read(request), src);
    assert!(!check("tracepoint:timer:hrtimer_cancel { printf(\"%d\\n\", tid); }").passed());
    assert!(
        check("tracepoint:timer:hrtimer_cancel { printf(\"%p\\n\", args->hrtimer); }").passed()
    );
}

#[test]
fn messages_a_call_returns_are_its_result_not_the_vector_it_offers() {
    // recvmmsg(2): 'returns the number of messages received'; `vlen` is how many at most.
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_recvmmsg",
            &[
                ("int", "__syscall_nr"),
                ("int", "fd"),
                ("struct mmsghdr *", "mmsg"),
                ("unsigned int", "vlen"),
                ("unsigned int", "flags"),
                ("struct __kernel_timespec *", "timeout"),
            ],
        ),
        (
            "syscalls",
            "sys_exit_recvmmsg",
            &[("int", "__syscall_nr"), ("long", "ret")],
        ),
    ]);
    let request = "distribution of how many messages one recvmmsg() call returned";
    let returned =
        "tracepoint:syscalls:sys_exit_recvmmsg /args->ret >= 0/ { @n = hist(args->ret); }";
    assert!(check_coverage(&h, &Intent::read(request), returned).passed());
    // Asked for what the calls ask for, the vector's length is still the value.
    let asked = "distribution of how many messages one recvmmsg() call asks for";
    assert!(!check_coverage(&h, &Intent::read(asked), returned).passed());
}

#[test]
fn a_stated_threshold_must_be_compared_in_some_unit() {
    let request = "per disk, how many block requests take over 20 ms from issue to completion";
    let i = Intent::read(request);
    let none = "tracepoint:block:block_rq_issue { @s[args->dev, args->sector] = nsecs; }\n\
                tracepoint:block:block_rq_complete /@s[args->dev, args->sector]/ { @n[args->dev] = count(); delete(@s[args->dev, args->sector]); }";
    assert!(values::stated_threshold_uncompared(&i, none).is_some());
    for test in [
        "(nsecs - @s[args->dev, args->sector]) / 1000000 > 20",
        "nsecs - @s[args->dev, args->sector] >= 20000000",
        "(nsecs - @s[args->dev, args->sector]) > 20 * 1000000",
        "20000 < (nsecs - @s[args->dev, args->sector]) / 1000",
    ] {
        assert!(
            values::stated_threshold_uncompared(&i, &format!("x /{test}/ {{ @n = count(); }}"))
                .is_none(),
            "{test}"
        );
    }
    // Another number is no reading of it.
    assert!(values::stated_threshold_uncompared(&i, "x /$d > 200/ { @n = count(); }").is_some());
    // Sizes: a shift reads MiB.
    let big = Intent::read("reads asking for more than 2 MiB");
    assert!(values::stated_threshold_uncompared(&big, "x /args->count > 2 << 20/ { }").is_none());
}

#[test]
fn a_flag_the_request_sets_apart_is_not_what_the_program_keeps() {
    let i = Intent::read("list mmap() calls backed by files, not anonymous ones, with the length");
    let kept = "tracepoint:syscalls:sys_enter_mmap /(args->flags & 32) != 0/ { printf(\"%d\\n\", args->len); }";
    assert_eq!(values::negated_flags_kept(&i, kept).len(), 1);
    let bare =
        "tracepoint:syscalls:sys_enter_mmap /args->flags & 0x20/ { printf(\"%d\\n\", args->len); }";
    assert_eq!(values::negated_flags_kept(&i, bare).len(), 1);
    for right in [
        "tracepoint:syscalls:sys_enter_mmap /(args->flags & 0x20) == 0/ { printf(\"%d\\n\", args->len); }",
        "tracepoint:syscalls:sys_enter_mmap /!(args->flags & 32)/ { printf(\"%d\\n\", args->len); }",
    ] {
        assert!(values::negated_flags_kept(&i, right).is_empty(), "{right}");
    }
    // Asked for, the bit set is right.
    let asked = Intent::read("list anonymous mmap() calls with the length");
    assert!(values::negated_flags_kept(&asked, kept).is_empty());
}

#[test]
fn a_value_written_after_a_fields_name_is_kept_by_a_test_of_that_field() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        ("syscalls", "sys_enter_setgid", &[("gid_t", "gid")]),
        (
            "syscalls",
            "sys_enter_read",
            &[
                ("unsigned int", "fd"),
                ("char *", "buf"),
                ("size_t", "count"),
            ],
        ),
    ]);
    let check = |ask: &str, src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let ask = "list setgid calls that make the group gid 0, with the caller's name";
    // The caller's own gid (a builtin) and the opposite test both miss it.
    let builtin = "tracepoint:syscalls:sys_enter_setgid /gid == 0/ { printf(\"%s\\n\", comm); }";
    assert!(
        check(ask, builtin).contains("`args->gid == 0`"),
        "{}",
        check(ask, builtin)
    );
    let other =
        "tracepoint:syscalls:sys_enter_setgid /args->gid != 0/ { printf(\"%s\\n\", comm); }";
    assert!(check(ask, other).contains("`args->gid == 0`"));
    let kept = "tracepoint:syscalls:sys_enter_setgid /args->gid == 0/ { printf(\"%s\\n\", comm); }";
    assert!(
        !check(ask, kept).contains("args->gid"),
        "{}",
        check(ask, kept)
    );
    // Joined by a word that says the value.
    let ask = "setgid calls that change the gid to 0, with the caller's name";
    assert!(
        check(ask, other).contains("`args->gid == 0`"),
        "{}",
        check(ask, other)
    );
    // Spelled out ("file descriptor 0" is `fd`), kept through a variable; the pinned field
    // need not be printed.
    let ask = "tally reads of file descriptor 0 by program";
    let var = "tracepoint:syscalls:sys_enter_read { $f = args->fd; if ($f == 0) { @r[comm] = count(); } }";
    assert!(
        check_coverage(&h, &Intent::read(ask), var).passed(),
        "{}",
        check(ask, var)
    );
    let none = "tracepoint:syscalls:sys_enter_read { @r[comm] = count(); }";
    assert!(
        check(ask, none).contains("`args->fd == 0`"),
        "{}",
        check(ask, none)
    );
    // A number with a unit or a list is not a value of the field.
    let ask = "tally reads with count 4096 bytes or more by program";
    assert!(
        !check(ask, none).contains("args->count =="),
        "{}",
        check(ask, none)
    );
    // A leading zero writes octal, as C and chmod(1) do: "gid 010" is 8, kept by a test
    // written in decimal or in octal, not by one of 10.
    let ask = "list setgid calls that make the group gid 010, with the caller's name";
    let ten = "tracepoint:syscalls:sys_enter_setgid /args->gid == 10/ { printf(\"%s\\n\", comm); }";
    assert!(
        check(ask, ten).contains("`args->gid == 8`"),
        "{}",
        check(ask, ten)
    );
    for kept in ["8", "010", "0x8"] {
        let src = ten.replace("== 10", &format!("== {kept}"));
        assert!(
            !check(ask, &src).contains("args->gid"),
            "{kept}: {}",
            check(ask, &src)
        );
    }
}

#[test]
fn a_parents_name_is_no_key_for_the_forking_tasks_name_or_pid() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "sched",
        "sched_process_fork",
        &[
            ("char[16]", "parent_comm"),
            ("pid_t", "parent_pid"),
            ("char[16]", "child_comm"),
            ("pid_t", "child_pid"),
        ],
    )]);
    let ask = "tally new processes per parent process name";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let split =
        "tracepoint:sched:sched_process_fork { @n[args->parent_comm, comm, pid] = count(); }";
    assert!(
        check(split).contains("keys its tally by"),
        "{}",
        check(split)
    );
    let parent = "tracepoint:sched:sched_process_fork { @n[args->parent_comm] = count(); }";
    assert!(
        !check(parent).contains("keys its tally"),
        "{}",
        check(parent)
    );
    // Asked as well, the process's own name is a key.
    let ask = "tally new processes per parent process name, with the process name too";
    let both = "tracepoint:sched:sched_process_fork { @n[args->parent_comm, comm] = count(); }";
    let detail = check_coverage(&h, &Intent::read(ask), both).detail();
    assert!(!detail.contains("keys its tally"), "{detail}");
}

#[test]
fn a_key_computed_from_one_field_is_that_field() {
    let ask = "tally accept calls per program";
    let check = |src: &str| check_coverage(&host(), &Intent::read(ask), src).detail();
    let cast = "tracepoint:syscalls:sys_enter_accept { @a[tid] = args->upeer_sockaddr; }\ntracepoint:syscalls:sys_exit_accept { @n[comm, ((struct sockaddr_in *)@a[tid])->sin_port] = count(); delete(@a[tid]); }";
    assert!(check(cast).contains("upeer_sockaddr"), "{}", check(cast));
    let plain = "tracepoint:syscalls:sys_exit_accept { @n[comm] = count(); }";
    assert!(!check(plain).contains("keys its tally"), "{}", check(plain));
    // A part of a constant the request names ("SOCK" of SOCK_CLOEXEC) names no field.
    let ask = "tally accept4 calls passing SOCK_CLOEXEC, per program";
    let cast4 = cast.replace("accept", "accept4");
    let detail = check_coverage(&host(), &Intent::read(ask), &cast4).detail();
    assert!(detail.contains("upeer_sockaddr"), "{detail}");
}

#[test]
fn a_thread_id_a_call_takes_is_its_parameter_not_the_callers() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_tgkill",
        &[("pid_t", "tgid"), ("pid_t", "pid"), ("int", "sig")],
    )]);
    let ask = "log tgkill() use: who sends it, to which thread ID, and what signal";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let caller =
        "tracepoint:syscalls:sys_enter_tgkill { printf(\"%s %d %d\\n\", comm, tid, args->sig); }";
    assert!(check(caller).contains("`args->pid`"), "{}", check(caller));
    let target = "tracepoint:syscalls:sys_enter_tgkill { printf(\"%s %d %d\\n\", comm, args->pid, args->sig); }";
    assert!(!check(target).contains("`args->pid`"), "{}", check(target));
}

#[test]
fn an_event_with_other_causes_does_not_observe_a_call_written_as_one() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        ("syscalls", "sys_enter_exit_group", &[("int", "error_code")]),
        (
            "sched",
            "sched_process_exit",
            &[("char[16]", "comm"), ("pid_t", "pid")],
        ),
    ]);
    let check = |ask: &str, src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let at_exit = "tracepoint:sched:sched_process_exit { printf(\"%s %d\\n\", comm, pid); }";
    let ask = "which programs end themselves through exit_group calls? name and pid";
    assert!(
        check(ask, at_exit).contains("also fires for a fatal signal"),
        "{}",
        check(ask, at_exit)
    );
    let own = "tracepoint:syscalls:sys_enter_exit_group { printf(\"%s %d\\n\", comm, pid); }";
    assert!(
        !check(ask, own).contains("also fires"),
        "{}",
        check(ask, own)
    );
    // Not written as a call: the exit of a process is what is asked about.
    let ask = "which programs exit? name and pid";
    assert!(
        !check(ask, at_exit).contains("also fires"),
        "{}",
        check(ask, at_exit)
    );
}

#[test]
fn a_phrase_headed_by_a_name_asks_for_no_pid() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "sched",
        "sched_wakeup",
        &[
            ("char[16]", "comm"),
            ("pid_t", "pid"),
            ("int", "prio"),
            ("int", "target_cpu"),
        ],
    )]);
    let ask = "tally wakeups per woken task's name";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let split = "tracepoint:sched:sched_wakeup { @w[args->comm, args->pid] = count(); }";
    assert!(check(split).contains("args->pid"), "{}", check(split));
    let named = "tracepoint:sched:sched_wakeup { @w[args->comm] = count(); }";
    assert!(!check(named).contains("keys its tally"), "{}", check(named));
    // "X of Y": X is the head.
    let ask = "tally wakeups per name of each woken task";
    let detail = check_coverage(&h, &Intent::read(ask), split).detail();
    assert!(detail.contains("args->pid"), "{detail}");
    // Headed by an ID, the phrase asks for the PID and no name.
    let ask = "tally wakeups per woken task's pid";
    let by_pid = "tracepoint:sched:sched_wakeup { @w[args->pid] = count(); }";
    let detail = check_coverage(&h, &Intent::read(ask), by_pid).detail();
    assert!(!detail.contains("keys its tally"), "{detail}");
}

#[test]
fn a_sum_of_a_value_no_one_asked_for_is_no_count() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "kmem",
        "mm_page_alloc",
        &[("unsigned long", "pfn"), ("unsigned int", "order")],
    )]);
    let check = |ask: &str, src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let ask = "count big page allocations (order 4 and up) by program";
    let summed = "tracepoint:kmem:mm_page_alloc /args->order >= 4/ { @a[comm] = sum(args->pfn); }";
    let no_count =
        "a count (a tally per key, not a line per event), but the program never computes it";
    assert!(
        check(ask, summed).contains(no_count),
        "{}",
        check(ask, summed)
    );
    let counted = "tracepoint:kmem:mm_page_alloc /args->order >= 4/ { @a[comm] = count(); }";
    assert!(
        !check(ask, counted).contains(no_count),
        "{}",
        check(ask, counted)
    );
    // Where a quantity is measured too, its sum is the tally asked for.
    let ask = "count the bytes each program reads";
    let bytes = "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @b[comm] = sum(args->ret); }";
    assert!(
        !check(ask, bytes).contains(no_count),
        "{}",
        check(ask, bytes)
    );
}

#[test]
fn a_run_together_name_is_named_by_its_words_and_name_alone_is_not_enough() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_setsockopt",
        &[
            ("int", "fd"),
            ("int", "level"),
            ("int", "optname"),
            ("char *", "optval"),
            ("int", "optlen"),
        ],
    )]);
    let check = |ask: &str, src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let keyed = "tracepoint:syscalls:sys_enter_setsockopt { @s[comm, args->optname] = count(); }";
    let ask = "tally setsockopt use by program and by option name";
    assert!(
        !check(ask, keyed).contains("keys its tally"),
        "{}",
        check(ask, keyed)
    );
    let ask = "tally setsockopt use by program name";
    assert!(
        check(ask, keyed).contains("args->optname"),
        "{}",
        check(ask, keyed)
    );
}

#[test]
fn a_value_kept_in_some_bits_of_its_field_is_tested_under_their_mask() {
    // socket(2): SOCK_NONBLOCK and SOCK_CLOEXEC may be OR-ed into `type`.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_socket",
        &[("int", "family"), ("int", "type"), ("int", "protocol")],
    )]);
    let ask = "which programs open raw sockets, with the protocol";
    let check = |src: &str| check_coverage(&h, &Intent::read(ask), src).detail();
    let whole = "tracepoint:syscalls:sys_enter_socket /args->type == 3/ { printf(\"%s %d\\n\", comm, args->protocol); }";
    assert!(
        check(whole).contains("(args->type & 0xf) == 3"),
        "{}",
        check(whole)
    );
    for kept in [
        "(args->type & 0xf) == 3",
        "(args->type & 15) == 3",
        "3 == (args->type & 017)",
    ] {
        let src = whole.replace("args->type == 3", kept);
        assert!(!check(&src).contains("SOCK_RAW"), "{kept}: {}", check(&src));
    }
}

#[test]
fn a_value_of_a_kind_the_event_records_under_another_name_is_recorded_there() {
    // include/trace/events/kmem.h records the size asked for as `bytes_req`; another kmem
    // event has a field named `size` (rss_stat), which does not make kmalloc lack one.
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "kmem",
            "kmalloc",
            &[
                ("size_t", "bytes_req"),
                ("size_t", "bytes_alloc"),
                ("unsigned long", "call_site"),
            ],
        ),
        ("kmem", "rss_stat", &[("long", "size"), ("int", "member")]),
    ]);
    let ask = Intent::read("plot the sizes callers want from the slab allocator as a histogram");
    let req = "tracepoint:kmem:kmalloc { @ = hist(args->bytes_req); }";
    let c = check_coverage(&h, &ask, req);
    assert!(!c.detail().contains("does not record"), "{}", c.detail());
    // An event with no field of that kind still lacks it.
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "kmem",
            "kfree",
            &[("unsigned long", "call_site"), ("void *", "ptr")],
        ),
        ("kmem", "rss_stat", &[("long", "size"), ("int", "member")]),
    ]);
    let freed = "tracepoint:kmem:kfree { @ = count(); }";
    let c = check_coverage(&h, &ask, freed);
    assert!(c.detail().contains("does not record"), "{}", c.detail());
}

#[test]
fn a_sum_of_sectors_totals_how_many_not_where_they_start() {
    // include/trace/events/block.h: `sector` is where a request starts (blk_rq_pos()),
    // `nr_sector` how many sectors it spans (blk_rq_sectors()).
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "block",
        "block_rq_issue",
        &[
            ("dev_t", "dev"),
            ("sector_t", "sector"),
            ("unsigned int", "nr_sector"),
            ("unsigned int", "bytes"),
        ],
    )]);
    let total = Intent::read("for each disk, sum up the sectors that issued requests span");
    let summed = "tracepoint:block:block_rq_issue { @[args->dev] = sum(args->nr_sector); }";
    let c = check_coverage(&h, &total, summed);
    assert!(!c.detail().contains("`args->sector`"), "{}", c.detail());
    // Where a request starts, asked by its singular, is still the sector.
    let start = Intent::read("print every issued block request with its device and its sector");
    let without =
        "tracepoint:block:block_rq_issue { printf(\"%d %d\\n\", args->dev, args->nr_sector); }";
    let c = check_coverage(&h, &start, without);
    assert!(c.detail().contains("`args->sector`"), "{}", c.detail());
}

#[test]
fn a_value_added_up_is_no_key_beside_the_ones_grouped_by() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "writeback",
        "writeback_written",
        &[
            ("char[32]", "name"),
            ("long", "nr_pages"),
            ("int", "reason"),
        ],
    )]);
    let ask =
        Intent::read("count writeback passes per device name and add up the pages they write");
    let split = "tracepoint:writeback:writeback_written { @n[str(args->name), args->nr_pages] = count(); @p[str(args->name), args->nr_pages] = sum(args->nr_pages); }";
    let c = check_coverage(&h, &ask, split);
    assert!(c.detail().contains("args->nr_pages"), "{}", c.detail());
    let kept = "tracepoint:writeback:writeback_written { @n[str(args->name)] = count(); @p[str(args->name)] = sum(args->nr_pages); }";
    let c = check_coverage(&h, &ask, kept);
    assert!(!c.detail().contains("keys its tally"), "{}", c.detail());
    // Grouped by: a key.
    let by = Intent::read("sum the pages written back per reason and per page count");
    let keyed = "tracepoint:writeback:writeback_written { @[args->reason, args->nr_pages] = sum(args->nr_pages); }";
    let c = check_coverage(&h, &by, keyed);
    assert!(
        !c.detail().contains("args->nr_pages, which"),
        "{}",
        c.detail()
    );
}

#[test]
fn a_stated_pid_at_events_without_one_is_the_running_process() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "raw_syscalls",
        "sys_enter",
        &[("long", "id"), ("unsigned long[6]", "args")],
    )]);
    let ask = Intent::read("tally the syscalls of pid 4242 by syscall id");
    let wrong = "tracepoint:raw_syscalls:sys_enter /args->id == 4242/ { @[args->id] = count(); }";
    let c = check_coverage(&h, &ask, wrong);
    assert!(c.detail().contains("pid == 4242"), "{}", c.detail());
    let right = "tracepoint:raw_syscalls:sys_enter /pid == 4242/ { @[args->id] = count(); }";
    let c = check_coverage(&h, &ask, right);
    assert!(!c.detail().contains("pid == 4242"), "{}", c.detail());
}

#[test]
fn a_softirq_timed_per_vector_takes_another_cpus_start() {
    let ask = Intent::read("histogram of softirq handler durations, split by vector");
    let per_vec = "tracepoint:irq:softirq_entry { @t[args->vec] = nsecs; }\n\
                   tracepoint:irq:softirq_exit /@t[args->vec]/ { @us[args->vec] = hist((nsecs - @t[args->vec]) / 1000); delete(@t[args->vec]); }";
    let c = check_coverage(&host(), &ask, per_vec);
    assert!(
        c.detail().contains("key it by cpu (or tid)"),
        "{}",
        c.detail()
    );
    let per_cpu = "tracepoint:irq:softirq_entry { @t[cpu] = nsecs; }\n\
                   tracepoint:irq:softirq_exit /@t[cpu]/ { @us[args->vec] = hist((nsecs - @t[cpu]) / 1000); delete(@t[cpu]); }";
    let c = check_coverage(&host(), &ask, per_cpu);
    assert!(!c.detail().contains("key it by cpu"), "{}", c.detail());
    // A syscall's latency keyed by thread is another span.
    let ask = Intent::read("how long do reads take, as a histogram");
    let reads = "tracepoint:syscalls:sys_enter_read { @t[tid] = nsecs; }\n\
                 tracepoint:syscalls:sys_exit_read /@t[tid]/ { @ = hist(nsecs - @t[tid]); delete(@t[tid]); }";
    let c = check_coverage(&host(), &ask, reads);
    assert!(!c.detail().contains("key it by cpu"), "{}", c.detail());
}

#[test]
fn a_size_in_bytes_is_not_compared_with_a_count_of_other_things() {
    // readv(2): `vlen` is how many iovec structures the caller passes, not bytes.
    let h = HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_readv",
            &[
                ("unsigned long", "fd"),
                ("const struct iovec *", "vec"),
                ("unsigned long", "vlen"),
            ],
        ),
        ("syscalls", "sys_exit_readv", &[("long", "ret")]),
    ]);
    let ask =
        Intent::read("list readv() calls moving over 128 KiB of bytes, with the caller's name");
    let vlen = "tracepoint:syscalls:sys_enter_readv /args->vlen > 131072/ { printf(\"%s %d\\n\", comm, args->vlen); }";
    let c = check_coverage(&h, &ask, vlen);
    assert!(c.detail().contains("`args->vlen`"), "{}", c.detail());
    assert!(c.detail().contains("args->ret"), "{}", c.detail());
    let ret = "tracepoint:syscalls:sys_exit_readv /args->ret > 131072/ { printf(\"%s %d\\n\", comm, args->ret); }";
    let c = check_coverage(&h, &ask, ret);
    assert!(
        !c.detail().contains("holds no byte count"),
        "{}",
        c.detail()
    );
}

#[test]
fn bytes_asked_are_not_reported_in_sectors() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "block",
        "block_rq_complete",
        &[
            ("dev_t", "dev"),
            ("sector_t", "sector"),
            ("unsigned int", "nr_sector"),
            ("int", "error"),
        ],
    )]);
    let ask = Intent::read("a histogram of how big finished disk requests are, in bytes");
    let sectors = "tracepoint:block:block_rq_complete { @ = hist(args->nr_sector); }";
    let c = check_coverage(&h, &ask, sectors);
    assert!(c.detail().contains("512-byte sectors"), "{}", c.detail());
    for right in [
        "tracepoint:block:block_rq_complete { @ = hist(args->nr_sector * 512); }",
        "tracepoint:block:block_rq_complete { @ = hist(512 * args->nr_sector); }",
        "tracepoint:block:block_rq_complete { @ = hist(args->nr_sector << 9); }",
    ] {
        let c = check_coverage(&h, &ask, right);
        assert!(c.passed(), "{right}: {}", c.detail());
    }
    // Sectors asked: as recorded.
    let in_sectors = Intent::read("a histogram of how big finished disk requests are, in sectors");
    assert!(check_coverage(&h, &in_sectors, sectors).passed());
}

#[test]
fn a_file_offset_is_a_number_of_bytes() {
    // lseek(2): the offset is in bytes; include/linux/types.h `loff_t`.
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_pwrite64",
        &[
            ("unsigned int", "fd"),
            ("const char *", "buf"),
            ("size_t", "count"),
            ("loff_t", "pos"),
        ],
    )]);
    let ask = Intent::read("pwrite64() calls writing beyond 4 GiB into a file, by program");
    let pos =
        "tracepoint:syscalls:sys_enter_pwrite64 /args->pos > 4294967296/ { @[comm] = count(); }";
    let c = check_coverage(&h, &ask, pos);
    assert!(
        !c.detail().contains("holds no byte count"),
        "{}",
        c.detail()
    );
    let fd =
        "tracepoint:syscalls:sys_enter_pwrite64 /args->fd > 4294967296/ { @[comm] = count(); }";
    let c = check_coverage(&h, &ask, fd);
    assert!(c.detail().contains("holds no byte count"), "{}", c.detail());
}

#[test]
fn a_bit_test_of_other_bits_than_the_ones_spoken_of_keeps_other_calls() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "syscalls",
        "sys_enter_mprotect",
        &[
            ("unsigned long", "start"),
            ("size_t", "len"),
            ("unsigned long", "prot"),
        ],
    )]);
    let ask =
        Intent::read("which programs turn pages executable with mprotect, and how many bytes");
    let other = "tracepoint:syscalls:sys_enter_mprotect { if (args->prot & 0x10000000) { printf(\"%s %d\\n\", comm, args->len); } }";
    let c = check_coverage(&h, &ask, other);
    assert!(c.detail().contains("PROT_EXEC 0x4"), "{}", c.detail());
    let exec = "tracepoint:syscalls:sys_enter_mprotect { if (args->prot & 4) { printf(\"%s %d\\n\", comm, args->len); } }";
    let c = check_coverage(&h, &ask, exec);
    assert!(!c.detail().contains("tests bits"), "{}", c.detail());
}

#[test]
fn the_uid_of_a_setuid_call_is_the_one_it_passes() {
    let h = HostFacts::for_tests_with_tracepoints(&[
        ("syscalls", "sys_enter_setgid", &[("gid_t", "gid")]),
        ("syscalls", "sys_exit_setgid", &[("long", "ret")]),
    ]);
    let ask = Intent::read("setgid() calls that are refused, with the gid and the errno");
    let caller = "tracepoint:syscalls:sys_exit_setgid /args->ret < 0/ { printf(\"%d %d\\n\", gid, args->ret); }";
    let c = check_coverage(&h, &ask, caller);
    assert!(c.detail().contains("args->gid"), "{}", c.detail());
    let passed = "tracepoint:syscalls:sys_enter_setgid { @g[tid] = args->gid; }\n\
                  tracepoint:syscalls:sys_exit_setgid /@g[tid]/ { if (args->ret < 0) { printf(\"%d %d\\n\", @g[tid], args->ret); } delete(@g[tid]); }";
    let c = check_coverage(&h, &ask, passed);
    assert!(!c.detail().contains("args->gid"), "{}", c.detail());
}

#[test]
fn a_function_asked_for_is_shown_by_name() {
    let h = HostFacts::for_tests_with_tracepoints(&[(
        "timer",
        "timer_expire_entry",
        &[
            ("void *", "timer"),
            ("unsigned long", "now"),
            ("void *", "function"),
        ],
    )]);
    let ask = Intent::read("log timer-wheel expiries and the callback function each runs");
    let address = "tracepoint:timer:timer_expire_entry { printf(\"%p\\n\", args->function); }";
    let c = check_coverage(&h, &ask, address);
    assert!(
        c.detail().contains("ksym(args->function)"),
        "{}",
        c.detail()
    );
    let named = "tracepoint:timer:timer_expire_entry { printf(\"%s\\n\", ksym(args->function)); }";
    let c = check_coverage(&h, &ask, named);
    assert!(
        !c.detail().contains("ksym(args->function)"),
        "{}",
        c.detail()
    );
}
