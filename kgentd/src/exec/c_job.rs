//! C jobs: a compiled object loaded, pinned under the job's directory and attached; then its
//! output collected until the job ends: ring-buffer and perf-buffer records decoded from the
//! object's BTF,
//! `bpf_printk` lines, maps printed every `KGENT_PRINT_EVERY` seconds and once more at the end.
//!
//! The pins are the job's lifeline: they keep programs attached while the daemon runs, and a
//! [`PinGuard`] removes them (detaching everything) however the job ends. Only a daemon killed
//! outright leaves them, for the next daemon's reconcile.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aya::maps::perf::{PerfEvent, PerfEventArray, PerfEventArrayBuffer};
use aya::maps::{Map, MapData, RingBuf};
use futures::future::select_all;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, Notify};

use super::decode::{self, MapDump};
use super::loader::{self, AttachTargets, LoadError, ObjectFacts};
use super::map_read;
use super::printk::TracePipe;
use super::JobEvent;
use crate::metrics::{DropCause, JobMeter};

const MAP_TYPE_HASH: u32 = 1;
const MAP_TYPE_ARRAY: u32 = 2;
const MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
const MAP_TYPE_PERCPU_HASH: u32 = 5;
const MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const MAP_TYPE_LRU_HASH: u32 = 9;
const MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
const MAP_TYPE_RINGBUF: u32 = 27;
/// Entries shown per map in a periodic print (all of them at the end).
const PERIODIC_TOP: usize = 10;

/// Removes the job's pins when dropped: whatever ends the job, nothing stays attached.
pub struct PinGuard(pub Option<PathBuf>);

impl Drop for PinGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            loader::remove_pins(&dir);
        }
    }
}

/// A job's maps and what is needed to read them.
pub struct Prepared {
    pub maps: Vec<(String, Map)>,
    pub facts: ObjectFacts,
    pub attached: Vec<String>,
    pub pins: PinGuard,
}

/// The maps of the object's `.maps` section, with their BTF map type.
fn map_types(facts: &ObjectFacts) -> Vec<(String, u32)> {
    facts
        .types
        .map_definitions()
        .into_iter()
        .map(|(name, def)| {
            let t = facts.types.map_field_number(def, "type").unwrap_or(0);
            (name, t)
        })
        .collect()
}

/// Loads, pins under `pin_dir` and attaches; on any failure the pins are gone again.
pub fn prepare(
    bytes: &[u8],
    pin_dir: &Path,
    targets: &AttachTargets,
) -> Result<Prepared, LoadError> {
    let pins = PinGuard(Some(pin_dir.to_owned()));
    let mut loaded = loader::load(bytes)?;
    loaded.pin_under(pin_dir)?;
    loaded.attach_all(targets)?;
    let mut maps = Vec::new();
    for (name, _) in map_types(&loaded.facts) {
        if let Some(map) = loaded.ebpf.take_map(&name) {
            maps.push((name, map));
        }
    }
    Ok(Prepared {
        maps,
        facts: loaded.facts.clone(),
        attached: loaded.attached.clone(),
        pins,
    })
}

/// Takes over a job a previous daemon left live: its maps from their pins.
pub fn adopt(bytes: &[u8], pin_dir: &Path) -> Result<Prepared, String> {
    let pins = PinGuard(Some(pin_dir.to_owned()));
    let facts = loader::inspect(bytes).map_err(|e| e.to_string())?;
    let mut maps = Vec::new();
    for (name, _) in map_types(&facts) {
        let path = pin_dir.join(loader::pin_name("map", &name));
        let data = MapData::from_pin(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let map = Map::from_map_data(data).map_err(|e| format!("{name}: {e}"))?;
        maps.push((name, map));
    }
    if std::fs::read_dir(pin_dir)
        .map(|d| {
            !d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("link_"))
        })
        .unwrap_or(true)
    {
        return Err(format!("no pinned link in {}", pin_dir.display()));
    }
    Ok(Prepared {
        maps,
        facts,
        attached: vec!["re-adopted after a daemon restart".into()],
        pins,
    })
}

/// What ends a C job and how its output is limited.
pub struct Watch {
    pub stop: Arc<Notify>,
    pub duration: Option<Duration>,
    pub detached: bool,
    pub max_events_per_s: u32,
    pub printk: Option<TracePipe>,
    /// The job's metrics; dropped with the watch when the job ends.
    pub meter: JobMeter,
}

/// A buffer records arrive in: a ring buffer, or one CPU's perf buffer.
enum Buffer {
    Ring(AsyncFd<RingBuf<MapData>>),
    Perf(AsyncFd<PerfEventArrayBuffer<MapData>>),
}

struct Ring {
    name: String,
    fd: Buffer,
    record: Option<u32>,
}

/// What came out of a buffer: records, and how many the kernel could not store.
#[derive(Default)]
struct Drained {
    records: Vec<(String, Option<u32>, Vec<u8>)>,
    lost: Vec<(String, u64)>,
}

impl Ring {
    /// Takes every record available now.
    fn drain_now(&mut self, out: &mut Drained) {
        match &mut self.fd {
            Buffer::Ring(fd) => {
                while let Some(item) = fd.get_mut().next() {
                    out.records
                        .push((self.name.clone(), self.record, item.to_vec()));
                }
            }
            Buffer::Perf(fd) => drain_perf(fd.get_mut(), &self.name, self.record, out),
        }
    }
}

fn drain_perf(
    buf: &mut PerfEventArrayBuffer<MapData>,
    name: &str,
    record: Option<u32>,
    out: &mut Drained,
) {
    buf.for_each(|ev| match ev {
        PerfEvent::Sample { head, tail } => {
            let mut bytes = head.to_vec();
            bytes.extend_from_slice(tail);
            out.records.push((name.to_owned(), record, bytes));
        }
        PerfEvent::Lost { count } => out.lost.push((name.to_owned(), count)),
    });
}

fn line(text: String, json: Option<String>) -> JobEvent {
    JobEvent::Line {
        text,
        stderr: false,
        json,
    }
}

/// Streams the job's output to `events` until it ends; returns the Finished event.
pub async fn collect(
    prepared: Prepared,
    mut watch: Watch,
    events: &mpsc::Sender<JobEvent>,
) -> JobEvent {
    let Prepared {
        maps, facts, pins, ..
    } = prepared;
    let (mut rings, tables) = open_outputs(maps, &facts, events).await;
    let mut limiter = RateLimit::new(watch.max_events_per_s, "records");
    let reason = stream(
        &mut rings,
        &tables,
        &facts,
        &mut watch,
        &mut limiter,
        events,
    )
    .await;
    // What is still in the buffers, then the maps: the program's last word.
    let mut left = Drained::default();
    for ring in &mut rings {
        ring.drain_now(&mut left);
    }
    for (name, record, bytes) in left.records {
        if limiter.admit(&watch.meter) {
            let _ = events
                .send(record_line(&facts, &name, record, &bytes))
                .await;
        }
    }
    for ev in dump_maps(&facts, &tables, None) {
        let _ = events.send(ev).await;
    }
    drop(rings);
    drop(tables);
    drop(watch);
    drop(pins);
    JobEvent::Finished {
        exit_code: 0,
        reason: reason.to_owned(),
    }
}

/// The job's maps sorted by how their output is read: the buffers records arrive in (ring
/// buffers, and perf buffers one per CPU), and the tables printed periodically and at the end.
/// A buffer that cannot be read is reported to the client and left out.
async fn open_outputs(
    maps: Vec<(String, Map)>,
    facts: &ObjectFacts,
    events: &mpsc::Sender<JobEvent>,
) -> (Vec<Ring>, Vec<(String, Map)>) {
    let types = map_types(facts);
    let mut rings = Vec::new();
    let mut tables = Vec::new();
    for (name, map) in maps {
        let map_type = types
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, t)| *t);
        if map_type == MAP_TYPE_RINGBUF {
            let record = ring_record_type(facts, &name);
            match open_ring_buffer(map) {
                Ok(fd) => rings.push(Ring {
                    name,
                    fd: Buffer::Ring(fd),
                    record,
                }),
                Err(e) => {
                    let text = format!("kgent: cannot read ring buffer {name}: {e}");
                    send_notice(events, text).await;
                }
            }
        } else if map_type == MAP_TYPE_PERF_EVENT_ARRAY {
            let record = perf_record_type(facts, &name);
            match open_perf_buffers(map) {
                Ok(buffers) => rings.extend(buffers.into_iter().map(|fd| Ring {
                    name: name.clone(),
                    fd: Buffer::Perf(fd),
                    record,
                })),
                Err(e) => {
                    let text = format!("kgent: cannot read perf buffer {name}: {e}");
                    send_notice(events, text).await;
                }
            }
        } else if matches!(
            map_type,
            MAP_TYPE_HASH
                | MAP_TYPE_ARRAY
                | MAP_TYPE_PERCPU_HASH
                | MAP_TYPE_PERCPU_ARRAY
                | MAP_TYPE_LRU_HASH
                | MAP_TYPE_LRU_PERCPU_HASH
        ) {
            tables.push((name, map));
        }
    }
    (rings, tables)
}

/// A line from kgent itself (not the program) on the job's stderr.
async fn send_notice(events: &mpsc::Sender<JobEvent>, text: String) {
    let _ = events
        .send(JobEvent::Line {
            text,
            stderr: true,
            json: None,
        })
        .await;
}

/// The BTF type of a ring buffer's records: its map's `record` (or `value`) field, else a
/// struct named `event`.
fn ring_record_type(facts: &ObjectFacts, map: &str) -> Option<u32> {
    let def = facts
        .types
        .map_definitions()
        .into_iter()
        .find(|(n, _)| *n == map);
    def.and_then(|(_, d)| {
        facts
            .types
            .map_field_type(d, "record")
            .or_else(|| facts.types.map_field_type(d, "value"))
    })
    .or_else(|| facts.types.id_by_name("event"))
}

/// The BTF type of a perf buffer's records: its map's `record` field, else a struct named
/// `event`.
fn perf_record_type(facts: &ObjectFacts, map: &str) -> Option<u32> {
    facts
        .types
        .map_definitions()
        .into_iter()
        .find(|(n, _)| *n == map)
        .and_then(|(_, d)| facts.types.map_field_type(d, "record"))
        .or_else(|| facts.types.id_by_name("event"))
}

/// A ring buffer registered with the reactor.
fn open_ring_buffer(map: Map) -> Result<AsyncFd<RingBuf<MapData>>, String> {
    let ring = RingBuf::try_from(map).map_err(|e| e.to_string())?;
    // SAFETY: the RingBuf owns its map's fd and keeps it open, unchanged, for as long as it
    // lives, which is as long as the AsyncFd that owns it.
    unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
        .map_err(|e| e.to_string())
}

/// Sends records, `bpf_printk` lines and periodic map prints until the job is stopped, its
/// duration ends or (unless detached) its client goes away; returns which.
async fn stream(
    rings: &mut [Ring],
    tables: &[(String, Map)],
    facts: &ObjectFacts,
    watch: &mut Watch,
    limiter: &mut RateLimit,
    events: &mpsc::Sender<JobEvent>,
) -> &'static str {
    let Watch {
        stop,
        duration,
        detached,
        printk,
        meter,
        ..
    } = watch;
    let far = || tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut tick = facts.print_every.map(|p| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + p, p);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        tokio::select! {
            drained = next_records(rings), if !rings.is_empty() => {
                send_records(drained, facts, limiter, meter, events).await;
            }
            lines = async { match printk.as_mut() { Some(p) => p.lines().await, None => std::future::pending().await } }, if printk.is_some() => {
                for l in lines {
                    meter.event();
                    let _ = events.send(line(l, None)).await;
                }
            }
            _ = async { match tick.as_mut() { Some(t) => t.tick().await, None => std::future::pending().await } }, if tick.is_some() => {
                for ev in dump_maps(facts, tables, Some(PERIODIC_TOP)) {
                    let _ = events.send(ev).await;
                }
            }
            _ = stop.notified() => return "stopped on request",
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => return "the duration ended",
            _ = events.closed(), if !*detached => return "stopped: the client went away",
        }
    }
}

/// Sends what came out of the buffers: the records the rate limit admits, the records the
/// kernel lost, and (once a second) how many the limit dropped.
async fn send_records(
    drained: Drained,
    facts: &ObjectFacts,
    limiter: &mut RateLimit,
    meter: &JobMeter,
    events: &mpsc::Sender<JobEvent>,
) {
    for (name, record, bytes) in drained.records {
        if !limiter.admit(meter) {
            continue;
        }
        let _ = events.send(record_line(facts, &name, record, &bytes)).await;
    }
    for (name, count) in drained.lost {
        meter.dropped(DropCause::BufferFull, count);
        let text = format!("kgent: {count} records lost: perf buffer {name} was full");
        send_notice(events, text).await;
    }
    if let Some(dropped) = limiter.report() {
        send_notice(events, dropped).await;
    }
}

/// Waits until a buffer has records and takes them all.
async fn next_records(rings: &mut [Ring]) -> Drained {
    let ready = rings.iter_mut().map(|r| {
        Box::pin(async move {
            let mut out = Drained::default();
            match &mut r.fd {
                Buffer::Ring(fd) => {
                    if let Ok(mut guard) = fd.readable_mut().await {
                        while let Some(item) = guard.get_inner_mut().next() {
                            out.records.push((r.name.clone(), r.record, item.to_vec()));
                        }
                        guard.clear_ready();
                    }
                }
                Buffer::Perf(fd) => {
                    if let Ok(mut guard) = fd.readable_mut().await {
                        drain_perf(guard.get_inner_mut(), &r.name, r.record, &mut out);
                        guard.clear_ready();
                    }
                }
            }
            out
        })
    });
    select_all(ready).await.0
}

/// One perf buffer per online CPU, each registered with the reactor.
fn open_perf_buffers(map: Map) -> Result<Vec<AsyncFd<PerfEventArrayBuffer<MapData>>>, String> {
    let mut array = PerfEventArray::try_from(map).map_err(|e| e.to_string())?;
    let cpus = aya::util::online_cpus().map_err(|(what, e)| format!("{what}: {e}"))?;
    let mut out = Vec::new();
    for cpu in cpus {
        let buf = array.open(cpu, Some(64)).map_err(|e| e.to_string())?;
        // SAFETY: the buffer owns its perf event fd and keeps it open, unchanged, for as long
        // as it lives, which is as long as the AsyncFd that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(buf, tokio::io::Interest::READABLE) }
            .map_err(|e| e.to_string())?;
        out.push(fd);
    }
    Ok(out)
}

fn record_line(facts: &ObjectFacts, ring: &str, record: Option<u32>, bytes: &[u8]) -> JobEvent {
    let value = match record {
        Some(t) => decode::decode(&facts.types, t, bytes, ""),
        None => serde_json::Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect()),
    };
    let json = serde_json::json!({ "ring": ring, "record": value }).to_string();
    line(decode::to_text(&value), Some(json))
}

fn dump_maps(facts: &ObjectFacts, tables: &[(String, Map)], top: Option<usize>) -> Vec<JobEvent> {
    let defs = facts.types.map_definitions();
    let mut out = Vec::new();
    for (name, map) in tables {
        let Some((data, per_cpu)) = map_read::dumpable(map) else {
            continue;
        };
        let Ok(info) = data.info() else {
            continue;
        };
        let entries = match map_read::entries(
            std::os::fd::AsFd::as_fd(data.fd()),
            info.key_size() as usize,
            info.value_size() as usize,
            per_cpu,
        ) {
            Ok(e) => e,
            Err(e) => {
                out.push(JobEvent::Line {
                    text: format!("kgent: cannot read map {name}: {e}"),
                    stderr: true,
                    json: None,
                });
                continue;
            }
        };
        if entries.is_empty() {
            // Periodic prints skip an empty map; the last one says it stayed empty.
            if top.is_none() {
                out.push(line(format!("@{name}: (empty)"), None));
            }
            continue;
        }
        let def = defs.iter().find(|(n, _)| n == name).map(|(_, d)| *d);
        let dump = MapDump {
            name,
            key_type: def.and_then(|d| facts.types.map_field_type(d, "key")),
            value_type: def.and_then(|d| facts.types.map_field_type(d, "value")),
            entries,
            top,
        };
        let (lines, json) = decode::render_map(&facts.types, &dump);
        let n = lines.len();
        let json = json.to_string();
        for (i, text) in lines.into_iter().enumerate() {
            // The JSON document rides on the map's first line.
            out.push(line(text, (i == 0).then(|| json.clone())));
        }
        if n > 0 {
            out.push(line(String::new(), None));
        }
    }
    out
}

/// At most `per_s` records (or lines) a second; the rest are counted and reported once a
/// second.
pub(super) struct RateLimit {
    per_s: u32,
    /// What is counted, for the report: "records", "lines".
    unit: &'static str,
    window: tokio::time::Instant,
    admitted: u32,
    dropped: u64,
    reported_at: tokio::time::Instant,
}

impl RateLimit {
    pub(super) fn new(per_s: u32, unit: &'static str) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            per_s,
            unit,
            window: now,
            admitted: 0,
            dropped: 0,
            reported_at: now,
        }
    }

    /// Whether one more record may go now; counted in `meter` either way.
    pub(super) fn admit(&mut self, meter: &JobMeter) -> bool {
        let admitted = self.admit_now();
        if admitted {
            meter.event();
        } else {
            meter.dropped(DropCause::RateLimit, 1);
        }
        admitted
    }

    fn admit_now(&mut self) -> bool {
        if self.per_s == 0 {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.admitted = 0;
        }
        if self.admitted < self.per_s {
            self.admitted += 1;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    pub(super) fn report(&mut self) -> Option<String> {
        let now = tokio::time::Instant::now();
        if self.dropped == 0 || now.duration_since(self.reported_at) < Duration::from_secs(1) {
            return None;
        }
        self.reported_at = now;
        let n = std::mem::take(&mut self.dropped);
        Some(format!(
            "kgent: {n} {unit} dropped (over the limit of {} {unit}/s; raise it with --max-events-per-s)",
            self.per_s,
            unit = self.unit
        ))
    }
}
