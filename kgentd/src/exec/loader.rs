//! Loading a compiled C program through aya and the in-kernel verifier, and attaching every
//! program by its section name, libbpf-style.
//!
//! Loads run at `VerifierLogLevel::STATS` (a short log and the real errno); a rejection is
//! loaded again at `VERBOSE | STATS` to learn where it failed, and the log is condensed
//! ([`super::verifier_log`]) before anyone sees it. When a pin directory is given, every
//! program, link and map is pinned there, so a job survives a daemon restart until the next
//! daemon reconciles it; [`remove_pins`] removes them and so detaches everything.
//! Nothing here spawns tasks or talks to clients.
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{
    CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, KProbe, PerfEvent, Program, ProgramError,
    RawTracePoint, SchedClassifier, TcAttachType, TracePoint, UProbe, Xdp, XdpMode,
};
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use super::btf_types::TypeTable;
use super::verifier_log;
use crate::host::resolve_binary;

/// A program of the object and the section it lives in (its attach point, libbpf-style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSection {
    pub name: String,
    pub section: String,
}

/// What kgent reads from the object itself before loading it.
#[derive(Debug, Clone)]
pub struct ObjectFacts {
    pub programs: Vec<ProgramSection>,
    /// The object's own BTF, for decoding output.
    pub types: Arc<TypeTable>,
    /// `KGENT_PRINT_EVERY(n)`: print the maps every n seconds.
    pub print_every: Option<Duration>,
}

/// Why an object did not load or attach, condensed for a person or a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// Not an object kgent can load (no programs, no BTF, a section aya does not know).
    Object(String),
    /// The verifier rejected a program: its name and the condensed log.
    Verifier { program: String, reason: String },
    /// Loaded, but a program could not be attached: what to do instead.
    Attach { program: String, reason: String },
    /// Pinning under bpffs failed.
    Pin(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Object(e) => write!(f, "{e}"),
            Self::Verifier { program, reason } => {
                write!(
                    f,
                    "the kernel verifier rejected program `{program}`:\n{reason}"
                )
            }
            Self::Attach { program, reason } => {
                write!(f, "program `{program}` loaded but did not attach: {reason}")
            }
            Self::Pin(e) => write!(f, "pinning failed: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<LoadError> for crate::error::KgentError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Pin(_) => Self::HostSetup(Box::new(e)),
            _ => Self::ProgramRejected(Box::new(e)),
        }
    }
}

/// Reads the program sections, the BTF and kgent's conventions from an object.
pub fn inspect(bytes: &[u8]) -> Result<ObjectFacts, LoadError> {
    let file = object::File::parse(bytes)
        .map_err(|e| LoadError::Object(format!("not a BPF ELF object: {e}")))?;
    let mut programs = Vec::new();
    let mut print_every = None;
    for sym in file.symbols() {
        let Some(index) = sym.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        let section_name = section.name().unwrap_or("");
        let name = sym.name().unwrap_or("");
        if sym.kind() == SymbolKind::Text
            && sym.is_global()
            && section_name != ".text"
            && !name.is_empty()
        {
            programs.push(ProgramSection {
                name: name.to_owned(),
                section: section_name.to_owned(),
            });
        }
        if name == "kgent_print_every_s" {
            let data = section.data().unwrap_or(&[]);
            let at = sym.address() as usize;
            if let Some(b) = data.get(at..at.saturating_add(4)) {
                let secs = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                print_every = (secs > 0).then(|| Duration::from_secs(secs.into()));
            }
        }
    }
    if programs.is_empty() {
        return Err(LoadError::Object(
            "the object has no program: put each function in a section, e.g. SEC(\"tracepoint/syscalls/sys_enter_openat\")".into(),
        ));
    }
    let btf = file
        .section_by_name(".BTF")
        .and_then(|s| s.data().ok())
        .ok_or_else(|| {
            LoadError::Object("the object has no .BTF section: compile with -g".into())
        })?;
    let types = TypeTable::parse(btf).map_err(|e| LoadError::Object(format!(".BTF: {e}")))?;
    Ok(ObjectFacts {
        programs,
        types: Arc::new(types),
        print_every,
    })
}

/// The memory each map of the object declares, largest first, as (name, bytes): a ring buffer
/// its size, any other map max_entries × (key size + value size). Read from the object before
/// anything is created in the kernel.
pub fn map_bytes(bytes: &[u8]) -> Result<Vec<(String, u64)>, LoadError> {
    const RINGBUF: u32 = 27;
    let object = aya_obj::Object::parse(bytes)
        .map_err(|e| LoadError::Object(format!("cannot read the object's maps: {e}")))?;
    let mut maps: Vec<(String, u64)> = object
        .maps
        .iter()
        .map(|(name, map)| {
            let entries = u64::from(map.max_entries());
            let size = if map.map_type() == RINGBUF {
                entries
            } else {
                entries.saturating_mul(u64::from(map.key_size()) + u64::from(map.value_size()))
            };
            (name.clone(), size)
        })
        .collect();
    maps.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(maps)
}

/// Why the object's maps are over `budget` bytes, naming the largest and the setting; None
/// when they fit.
pub fn over_map_budget(bytes: &[u8], budget: u64) -> Result<Option<String>, LoadError> {
    let maps = map_bytes(bytes)?;
    let total: u64 = maps.iter().map(|(_, b)| *b).sum();
    if total <= budget {
        return Ok(None);
    }
    let largest: Vec<String> = maps
        .iter()
        .take(3)
        .map(|(name, b)| format!("{name} {} KiB", b / 1024))
        .collect();
    Ok(Some(format!(
        "the program's maps declare {} KiB, over the map budget (limits.max_map_bytes = {} KiB); largest: {}. Lower their max_entries",
        total / 1024,
        budget / 1024,
        largest.join(", ")
    )))
}

/// Whether any program of the object calls `bpf_trace_printk` (helper 6).
pub fn calls_trace_printk(bytes: &[u8]) -> bool {
    helper_calls(bytes).contains(&6)
}

/// The helpers (ids of `enum bpf_func_id`) the programs of an object call: every `call imm`
/// instruction (opcode 0x85, source register 0; 1 is a BPF-to-BPF call, 2 a kfunc) in an
/// executable section. An object that does not parse calls nothing.
pub fn helper_calls(bytes: &[u8]) -> std::collections::BTreeSet<i32> {
    let Ok(file) = object::File::parse(bytes) else {
        return Default::default();
    };
    file.sections()
        .filter(|s| s.kind() == object::SectionKind::Text)
        .filter_map(|s| s.data().ok())
        .flat_map(|code| {
            code.chunks_exact(8)
                .filter(|insn| insn[0] == 0x85 && insn[1] >> 4 == 0)
                .map(|insn| i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The kernel functions (kfuncs: extern functions the object declares `__ksym`) its programs
/// call: a call instruction relocated against an undefined symbol.
pub fn kfunc_calls(bytes: &[u8]) -> std::collections::BTreeSet<String> {
    use object::{ObjectSymbol, RelocationTarget};
    let Ok(file) = object::File::parse(bytes) else {
        return Default::default();
    };
    let mut out = std::collections::BTreeSet::new();
    for section in file
        .sections()
        .filter(|s| s.kind() == object::SectionKind::Text)
    {
        let code = section.data().unwrap_or(&[]);
        for (offset, reloc) in section.relocations() {
            let RelocationTarget::Symbol(index) = reloc.target() else {
                continue;
            };
            let Ok(sym) = file.symbol_by_index(index) else {
                continue;
            };
            let is_call = usize::try_from(offset)
                .ok()
                .and_then(|at| code.get(at))
                .is_some_and(|op| *op == 0x85);
            if is_call && sym.is_undefined() {
                out.insert(sym.name().unwrap_or("?").to_owned());
            }
        }
    }
    out
}

/// Where network and cgroup programs attach.
#[derive(Debug, Clone, Default)]
pub struct AttachTargets {
    /// Network interface for xdp and tc programs.
    pub interface: Option<String>,
    /// cgroup v2 directory for cgroup programs (default: the root, /sys/fs/cgroup).
    pub cgroup: Option<PathBuf>,
}

/// A loaded object: programs through the verifier, maps created.
pub struct Loaded {
    pub ebpf: Ebpf,
    pub facts: ObjectFacts,
    links: Vec<PinnedLink>,
    /// Links of an object that is not pinned (a load check): dropped with it.
    unpinned: Vec<FdLink>,
    pin_dir: Option<PathBuf>,
    /// One line per attached program, e.g. `kt4_openat → tracepoint syscalls:sys_enter_openat`.
    pub attached: Vec<String>,
}

fn load_error(
    program: &str,
    e: ProgramError,
    bytes: &[u8],
    tp_btf: Option<&str>,
    btf: Option<&Btf>,
) -> LoadError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let verbose = verbose_log(bytes, program, tp_btf, btf)
                .unwrap_or_else(|| verifier_log.to_string());
            LoadError::Verifier {
                program: program.to_owned(),
                reason: format!("{}\n(errno: {io_error})", verifier_log::condense(&verbose)),
            }
        }
        other if tp_btf.is_some() => LoadError::Verifier {
            program: program.to_owned(),
            reason: format!(
                "{}; tp_btf/NAME needs NAME to be a raw tracepoint of this kernel (btf_trace_NAME in its BTF)",
                error_chain(&other)
            ),
        },
        other => LoadError::Verifier {
            program: program.to_owned(),
            reason: error_chain(&other),
        },
    }
}

/// Loads the object once more at `VERBOSE | STATS` and returns the failing program's log.
fn verbose_log(
    bytes: &[u8],
    program: &str,
    tp_btf: Option<&str>,
    btf: Option<&Btf>,
) -> Option<String> {
    let mut ebpf = EbpfLoader::new()
        .verifier_log_level(VerifierLogLevel::VERBOSE | VerifierLogLevel::STATS)
        .load(bytes)
        .ok()?;
    let prog = ebpf.program_mut(program)?;
    match load_one(prog, tp_btf, btf) {
        Err(ProgramError::LoadError { verifier_log, .. }) => Some(verifier_log.to_string()),
        _ => None,
    }
}

fn load_one(
    prog: &mut Program,
    tp_btf: Option<&str>,
    btf: Option<&Btf>,
) -> Result<(), ProgramError> {
    match prog {
        Program::BtfTracePoint(p) => {
            let (Some(name), Some(btf)) = (tp_btf, btf) else {
                return Err(ProgramError::UnexpectedProgramType);
            };
            p.load(name, btf)
        }
        Program::TracePoint(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        Program::UProbe(p) => p.load(),
        Program::KProbe(p) => p.load(),
        Program::PerfEvent(p) => p.load(),
        Program::Xdp(p) => p.load(),
        Program::SchedClassifier(p) => p.load(),
        Program::CgroupSkb(p) => p.load(),
        Program::CgroupSock(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        Program::SockOps(p) => p.load(),
        Program::SocketFilter(p) => p.load(),
        _ => Err(ProgramError::UnexpectedProgramType),
    }
}

/// The part of a section after its kind: `tracepoint/syscalls/sys_enter_openat` →
/// `syscalls/sys_enter_openat`.
fn section_target(section: &str) -> &str {
    section.split_once('/').map_or("", |(_, rest)| rest)
}

/// Loads every program of `bytes` through the verifier (maps are created on the way).
pub fn load(bytes: &[u8]) -> Result<Loaded, LoadError> {
    let facts = inspect(bytes)?;
    let mut ebpf = EbpfLoader::new()
        .verifier_log_level(VerifierLogLevel::STATS)
        .load(bytes)
        .map_err(|e| LoadError::Object(object_error(&e)))?;
    let btf = Btf::from_sys_fs().ok();
    for p in &facts.programs {
        let Some(prog) = ebpf.program_mut(&p.name) else {
            continue;
        };
        let tp_btf = p.section.strip_prefix("tp_btf/");
        if let Err(e) = load_one(prog, tp_btf, btf.as_ref()) {
            if matches!(e, ProgramError::UnexpectedProgramType) {
                return Err(LoadError::Object(format!(
                    "program `{}` is in section {:?}, a kind kgent does not load; use tracepoint/, raw_tp/, tp_btf/, uprobe/, uretprobe/, perf_event, xdp, classifier (tc), cgroup_skb/ingress|egress, cgroup/sock_create, sockops or socket",
                    p.name, p.section
                )));
            }
            return Err(load_error(&p.name, e, bytes, tp_btf, btf.as_ref()));
        }
    }
    Ok(Loaded {
        ebpf,
        facts,
        links: Vec::new(),
        unpinned: Vec::new(),
        pin_dir: None,
        attached: Vec::new(),
    })
}

/// aya's object errors, with the fix where one is known.
fn object_error(e: &aya::EbpfError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    if text.contains("invalid program section") {
        text.push_str(" (kgent loads libbpf-style sections: tracepoint/CATEGORY/NAME, raw_tp/NAME, tp_btf/NAME, uprobe/PATH:FUNCTION, perf_event, xdp, classifier, cgroup_skb/ingress)");
    }
    text
}

/// Takes a just-attached link out of its program as an owned `FdLink` (pinned by `keep`, or
/// dropped to detach). A macro: every program type has its own `take_link` and link id type.
macro_rules! owned_link {
    ($prog:expr, $id:expr, $name:expr) => {
        $prog
            .take_link($id)
            .map_err(|e| LoadError::Attach {
                program: $name.to_owned(),
                reason: e.to_string(),
            })
            .and_then(|link| {
                FdLink::try_from(link).map_err(|e| LoadError::Pin(format!("{}: {e}", $name)))
            })
    };
}

/// What attaching one program made: its links, not kept yet, and where it attached.
struct Attachment {
    links: Links,
    what: String,
}

enum Links {
    /// One link, kept under the program's name.
    One(FdLink),
    /// A link per CPU, each kept under the program's name and a number.
    PerCpu(Vec<FdLink>),
}

impl Attachment {
    fn one(link: FdLink, what: String) -> Self {
        Self {
            links: Links::One(link),
            what,
        }
    }
}

impl Loaded {
    /// Pins every program and map under `dir` (created); links are pinned as they attach.
    pub fn pin_under(&mut self, dir: &Path) -> Result<(), LoadError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LoadError::Pin(format!("cannot create {}: {e}", dir.display())))?;
        self.pin_dir = Some(dir.to_owned());
        for (name, prog) in self.ebpf.programs_mut() {
            prog.pin(dir.join(pin_name("prog", name)))
                .map_err(|e| LoadError::Pin(format!("program {name}: {e}")))?;
        }
        for (name, map) in self.ebpf.maps() {
            map.pin(dir.join(pin_name("map", name)))
                .map_err(|e| LoadError::Pin(format!("map {name}: {e}")))?;
        }
        Ok(())
    }

    fn keep(&mut self, link: FdLink, program: &str) -> Result<(), LoadError> {
        let Some(dir) = &self.pin_dir else {
            // Not pinned: the link lives as long as this object (dropped with it).
            self.unpinned.push(link);
            return Ok(());
        };
        let pinned = link
            .pin(dir.join(pin_name("link", program)))
            .map_err(|e| LoadError::Pin(format!("link of {program}: {e}")))?;
        self.links.push(pinned);
        Ok(())
    }

    /// Attaches every program by its section.
    pub fn attach_all(&mut self, targets: &AttachTargets) -> Result<(), LoadError> {
        let programs = self.facts.programs.clone();
        for p in &programs {
            let what = self.attach_one(p, targets)?;
            self.attached.push(format!("{} → {what}", p.name));
        }
        Ok(())
    }

    /// For a load check: attaches the tracing programs (released with this object); network
    /// and cgroup programs need a target the caller names at run time and are left loaded.
    pub fn attach_for_check(&mut self) -> Result<Vec<String>, LoadError> {
        let programs = self.facts.programs.clone();
        let mut out = Vec::new();
        for p in &programs {
            let kind = p.section.split('/').next().unwrap_or("");
            if matches!(
                kind,
                "xdp"
                    | "xdp.frags"
                    | "classifier"
                    | "cgroup_skb"
                    | "cgroup"
                    | "sockops"
                    | "socket"
                    | "sk_msg"
                    | "sk_skb"
                    | "sk_lookup"
                    | "flow_dissector"
            ) {
                out.push(format!(
                    "{} ({}) verified; it attaches when run, to the interface or cgroup given",
                    p.name, p.section
                ));
                continue;
            }
            let what = self.attach_one(p, &AttachTargets::default())?;
            out.push(format!("{} attached to {what}", p.name));
        }
        Ok(out)
    }

    fn attach_one(
        &mut self,
        p: &ProgramSection,
        targets: &AttachTargets,
    ) -> Result<String, LoadError> {
        let name = p.name.as_str();
        let section = p.section.as_str();
        let target = section_target(section);
        let Some(prog) = self.ebpf.program_mut(name) else {
            return Err(LoadError::Object(format!("program {name} vanished")));
        };
        let attachment = match prog {
            Program::TracePoint(tp) => attach_tracepoint(tp, name, section, target)?,
            Program::RawTracePoint(rt) => attach_raw_tracepoint(rt, name, target)?,
            Program::BtfTracePoint(bt) => {
                let id = bt.attach().map_err(|e| attach_error(name, e, ""))?;
                Attachment::one(owned_link!(bt, id, name)?, format!("tp_btf {target}"))
            }
            Program::UProbe(up) => attach_uprobe(up, name, section, target)?,
            Program::KProbe(kp) => attach_kprobe(kp, name, target)?,
            Program::PerfEvent(pe) => attach_perf_event(pe, name)?,
            Program::Xdp(x) => attach_xdp(x, name, targets)?,
            Program::SchedClassifier(tc) => attach_tc(tc, name, target, targets)?,
            Program::CgroupSkb(cg) => attach_cgroup_skb(cg, name, target, targets)?,
            Program::CgroupSock(cg) => {
                let cgroup = open_cgroup(targets, name)?;
                let id = cg
                    .attach(cgroup.as_fd(), CgroupAttachMode::AllowMultiple)
                    .map_err(|e| attach_error(name, e, ""))?;
                Attachment::one(owned_link!(cg, id, name)?, format!("cgroup sock {target}"))
            }
            Program::CgroupSockAddr(cg) => {
                let cgroup = open_cgroup(targets, name)?;
                let id = cg
                    .attach(cgroup.as_fd(), CgroupAttachMode::AllowMultiple)
                    .map_err(|e| attach_error(name, e, ""))?;
                let what = format!("cgroup sock_addr {target}");
                Attachment::one(owned_link!(cg, id, name)?, what)
            }
            Program::SockOps(so) => {
                let cgroup = open_cgroup(targets, name)?;
                let id = so
                    .attach(cgroup.as_fd(), CgroupAttachMode::AllowMultiple)
                    .map_err(|e| attach_error(name, e, ""))?;
                Attachment::one(owned_link!(so, id, name)?, "sockops".into())
            }
            _ => {
                return Err(LoadError::Attach {
                    program: name.to_owned(),
                    reason: format!("kgent does not attach programs of section {section:?} yet"),
                })
            }
        };
        match attachment.links {
            Links::One(link) => self.keep(link, name)?,
            Links::PerCpu(links) => {
                for link in links {
                    self.keep_numbered(link, name)?;
                }
            }
        }
        Ok(attachment.what)
    }

    fn keep_numbered(&mut self, link: FdLink, program: &str) -> Result<(), LoadError> {
        let n = self.links.len() + self.unpinned.len();
        self.keep(link, &format!("{program}_{n}"))
    }
}

fn attach_error(program: &str, e: ProgramError, hint: &str) -> LoadError {
    LoadError::Attach {
        program: program.to_owned(),
        reason: format!("{}{hint}", error_chain(&e)),
    }
}

fn attach_tracepoint(
    tp: &mut TracePoint,
    name: &str,
    section: &str,
    target: &str,
) -> Result<Attachment, LoadError> {
    let Some((category, event)) = target.split_once('/') else {
        return Err(LoadError::Attach {
            program: name.to_owned(),
            reason: format!("section {section:?} must be tracepoint/CATEGORY/NAME, e.g. tracepoint/syscalls/sys_enter_openat"),
        });
    };
    let id = tp.attach(category, event).map_err(|e| {
        let hint = if error_chain(&e).contains("Permission denied") {
            format!("; the program reads past the end of this tracepoint's record: use only the fields in /sys/kernel/tracing/events/{category}/{event}/format (syscall tracepoints: ctx->args[i] of sys_enter_*, ctx->ret of sys_exit_*)")
        } else {
            format!("; the tracepoint must exist: /sys/kernel/tracing/events/{category}/{event}")
        };
        attach_error(name, e, &hint)
    })?;
    let what = format!("tracepoint {category}:{event}");
    Ok(Attachment::one(owned_link!(tp, id, name)?, what))
}

fn attach_raw_tracepoint(
    rt: &mut RawTracePoint,
    name: &str,
    target: &str,
) -> Result<Attachment, LoadError> {
    let id = rt.attach(target).map_err(|e| {
        attach_error(
            name,
            e,
            "; raw_tp/NAME takes a raw tracepoint name, e.g. raw_tp/sched_switch",
        )
    })?;
    let what = format!("raw tracepoint {target}");
    Ok(Attachment::one(owned_link!(rt, id, name)?, what))
}

fn attach_uprobe(
    up: &mut UProbe,
    name: &str,
    section: &str,
    target: &str,
) -> Result<Attachment, LoadError> {
    let Some((binary, function)) = target.rsplit_once(':') else {
        return Err(LoadError::Attach {
            program: name.to_owned(),
            reason: format!(
                "section {section:?} must be uprobe/PATH:FUNCTION, e.g. uprobe//bin/bash:readline"
            ),
        });
    };
    let path = resolve_binary(binary).ok_or_else(|| LoadError::Attach {
        program: name.to_owned(),
        reason: format!("no binary or library {binary:?} on this host"),
    })?;
    let id = up
        .attach(
            function,
            &path,
            aya::programs::uprobe::UProbeScope::AllProcesses,
        )
        .map_err(|e| attach_error(name, e, ""))?;
    let what = format!("uprobe {}:{function}", path.display());
    Ok(Attachment::one(owned_link!(up, id, name)?, what))
}

fn attach_kprobe(kp: &mut KProbe, name: &str, target: &str) -> Result<Attachment, LoadError> {
    let id = kp.attach(target, 0).map_err(|e| {
        attach_error(name, e, "; kprobes may be unavailable on this kernel (CONFIG_KPROBES unset): use a tracepoint/ or raw_tp/ section instead")
    })?;
    Ok(Attachment::one(
        owned_link!(kp, id, name)?,
        format!("kprobe {target}"),
    ))
}

/// CPU-clock sampling at 99 Hz: one perf event per online CPU.
fn attach_perf_event(pe: &mut PerfEvent, name: &str) -> Result<Attachment, LoadError> {
    let cpus = aya::util::online_cpus().map_err(|(what, e)| LoadError::Attach {
        program: name.to_owned(),
        reason: format!("{what}: {e}"),
    })?;
    let mut ids = Vec::new();
    for cpu in &cpus {
        let id = pe
            .attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu: *cpu },
                SamplePolicy::Frequency(99),
                false,
            )
            .map_err(|e| attach_error(name, e, ""))?;
        ids.push(id);
    }
    let mut links = Vec::new();
    for id in ids {
        let link = pe.take_link(id).map_err(|e| attach_error(name, e, ""))?;
        let fd = FdLink::try_from(link).map_err(|e| LoadError::Pin(e.to_string()))?;
        links.push(fd);
    }
    Ok(Attachment {
        links: Links::PerCpu(links),
        what: format!("perf_event cpu-clock at 99 Hz on {} CPUs", cpus.len()),
    })
}

/// The driver's XDP mode, or the generic (skb) mode when the driver has none.
fn attach_xdp(x: &mut Xdp, name: &str, targets: &AttachTargets) -> Result<Attachment, LoadError> {
    let iface = targets.interface.clone().ok_or_else(|| LoadError::Attach {
        program: name.to_owned(),
        reason: "an xdp program needs a network interface: run it with --interface IFACE".into(),
    })?;
    let id = match x.attach(&iface, XdpMode::default()) {
        Ok(id) => id,
        Err(_) => x
            .attach(&iface, XdpMode::Skb)
            .map_err(|e| attach_error(name, e, ""))?,
    };
    let what = format!("xdp on {iface}");
    Ok(Attachment::one(owned_link!(x, id, name)?, what))
}

fn attach_tc(
    tc: &mut SchedClassifier,
    name: &str,
    target: &str,
    targets: &AttachTargets,
) -> Result<Attachment, LoadError> {
    let iface = targets.interface.clone().ok_or_else(|| LoadError::Attach {
        program: name.to_owned(),
        reason: "a tc program needs a network interface: run it with --interface IFACE".into(),
    })?;
    let direction = if target.contains("egress") {
        TcAttachType::Egress
    } else {
        TcAttachType::Ingress
    };
    let id = tc
        .attach(&iface, direction)
        .map_err(|e| attach_error(name, e, ""))?;
    let what = format!("tc {direction:?} on {iface}");
    Ok(Attachment::one(owned_link!(tc, id, name)?, what))
}

fn attach_cgroup_skb(
    cg: &mut CgroupSkb,
    name: &str,
    target: &str,
    targets: &AttachTargets,
) -> Result<Attachment, LoadError> {
    let cgroup = open_cgroup(targets, name)?;
    let direction = if target.contains("egress") {
        CgroupSkbAttachType::Egress
    } else {
        CgroupSkbAttachType::Ingress
    };
    let id = cg
        .attach(cgroup.as_fd(), direction, CgroupAttachMode::AllowMultiple)
        .map_err(|e| attach_error(name, e, ""))?;
    let what = format!("cgroup_skb {direction:?}");
    Ok(Attachment::one(owned_link!(cg, id, name)?, what))
}

/// bpffs refuses names with a dot: `.rodata` is pinned as `map__rodata`.
pub fn pin_name(kind: &str, name: &str) -> String {
    format!("{kind}_{}", name.replace('.', "_"))
}

/// Removes a job's pin directory: each pin released, then the directory.
pub fn remove_pins(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!("cannot remove pin {}: {err}", e.path().display());
            }
        }
    }
    if let Err(err) = std::fs::remove_dir(dir) {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove {}: {err}", dir.display());
        }
    }
}

fn open_cgroup(targets: &AttachTargets, program: &str) -> Result<std::fs::File, LoadError> {
    let path = targets
        .cgroup
        .clone()
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
    std::fs::File::open(&path).map_err(|e| LoadError::Attach {
        program: program.to_owned(),
        reason: format!("cannot open cgroup {}: {e}", path.display()),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::clang::ClangToolchain;

    const GETPPID: &str = r#"
#include "vmlinux.h"
#include "kgent.h"
struct event { u32 pid; char comm[16]; u64 calls; };
KGENT_RINGBUF(events, struct event, 64 * 1024);
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } kt4_calls SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int kt4_unit_getppid(void *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = 1, *n = bpf_map_lookup_elem(&kt4_calls, &pid);
    if (n) { __sync_fetch_and_add(n, 1); } else { bpf_map_update_elem(&kt4_calls, &pid, &one, BPF_ANY); }
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) return 0;
    e->pid = pid;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    e->calls = n ? *n : 1;
    bpf_ringbuf_submit(e, 0);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"#;

    /// Needs root, clang and bpftool (bash setup.sh).
    #[tokio::test]
    async fn compiles_loads_attaches_and_its_records_decode() {
        let cache = tempfile::tempdir().expect("tmp");
        let cc = ClangToolchain::new(
            "clang".into(),
            "llvm-strip".into(),
            "bpftool".into(),
            cache.path().to_owned(),
        );
        let bytes = cc.compile(GETPPID).await.expect("compiles");
        let mut loaded = load(&bytes).expect("loads");
        loaded
            .attach_all(&AttachTargets::default())
            .expect("attaches");
        assert_eq!(
            loaded.attached,
            ["kt4_unit_getppid → tracepoint syscalls:sys_enter_getppid"]
        );
        let map = loaded.ebpf.take_map("events").expect("events map");
        let mut ring = aya::maps::RingBuf::try_from(map).expect("ring buffer");
        for _ in 0..3 {
            nix::unistd::getppid();
        }
        let defs = loaded.facts.types.map_definitions();
        let (_, def) = defs
            .iter()
            .find(|(n, _)| n == "events")
            .expect("events def");
        let record = loaded
            .facts
            .types
            .map_field_type(*def, "value")
            .expect("record type");
        let mut seen = Vec::new();
        while let Some(item) = ring.next() {
            let v = crate::exec::decode::decode(&loaded.facts.types, record, &item, "");
            if v["pid"] == std::process::id() {
                seen.push(v["calls"].as_u64().expect("calls"));
            }
        }
        assert_eq!(seen, [1, 2, 3]);
    }
}
