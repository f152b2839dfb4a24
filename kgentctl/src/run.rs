//! `kgentctl run`: run a program through kgentd and stream its output to this terminal.
//!
//! kgentd runs the program; this module only relays its output and turns Ctrl-C into a graceful
//! `Stop`, so bpftrace can print its maps before it exits. It must keep reading after the stop
//! until `Finished`, or those maps would be lost; a second Ctrl-C drops the stream, which makes
//! kgentd kill the program.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{run_event, run_request, Finished, RunRequest, StopRequest, Target};
use tokio::signal::unix::{signal, SignalKind};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::show::plural;
use crate::status::RpcError;
use crate::{client, Exit, TargetArg};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program's source file; `-` reads it from stdin.
    #[arg(
        value_name = "FILE",
        required_unless_present = "id",
        conflicts_with = "id"
    )]
    file: Option<PathBuf>,

    /// Run a past answer, by its request id (see `kgentctl history`).
    #[arg(long, value_name = "REQUEST_ID")]
    id: Option<String>,

    /// The kind of program in FILE.
    #[arg(long, value_enum, default_value = "bpftrace", conflicts_with = "id")]
    target: TargetArg,

    /// Stop the program after this many seconds (0: until Ctrl-C).
    #[arg(long, value_name = "S", default_value_t = 0)]
    duration: u32,

    /// Leave the program running after kgentctl exits: print its job id and return at once
    /// (its output goes to the job's log; `kgentctl jobs` shows it, `kgentctl stop ID` ends it).
    #[arg(long)]
    detach: bool,

    /// Network interface for xdp and tc programs (C).
    #[arg(long, value_name = "IFACE")]
    interface: Option<String>,

    /// cgroup v2 directory for cgroup programs (C; default: the root cgroup).
    #[arg(long, value_name = "DIR")]
    cgroup: Option<PathBuf>,

    /// Deliver at most this many ring-buffer records per second (C; default: kgentd's limit);
    /// the rest are dropped and counted.
    #[arg(long, value_name = "N")]
    max_events_per_s: Option<u32>,

    /// Print C programs' records and maps as JSON documents, one per line.
    #[arg(long)]
    json: bool,
}

pub async fn run(daemon: &crate::client::Daemon, args: RunArgs) -> anyhow::Result<Exit> {
    let (program, target) = match (args.id, args.file) {
        (Some(id), _) => (run_request::Program::AnswerId(id), Target::Unspecified),
        (None, Some(file)) => (
            run_request::Program::Source(read_source(&file)?),
            Target::from(args.target),
        ),
        (None, None) => bail!("give a program FILE (or - for stdin), or --id REQUEST_ID"),
    };
    let mut client = client::connect(daemon).await?;
    let request = RunRequest {
        program: Some(program),
        target: target.into(),
        duration_s: args.duration,
        detach: args.detach,
        interface: args.interface.unwrap_or_default(),
        cgroup: args
            .cgroup
            .map(|c| c.display().to_string())
            .unwrap_or_default(),
        max_events_per_s: args.max_events_per_s.unwrap_or(0),
    };
    stream(&mut client, request, args.json).await
}

fn read_source(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut source = String::new();
        io::stdin()
            .read_to_string(&mut source)
            .context("reading the program from stdin")?;
        Ok(source)
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("reading the program from {}", file.display()))
    }
}

/// Runs `request` and relays its output until the program finishes, handling Ctrl-C.
pub async fn stream(
    client: &mut KgentClient<Channel>,
    request: RunRequest,
    json: bool,
) -> anyhow::Result<Exit> {
    let duration_s = request.duration_s;
    let detach = request.detach;
    let mut interrupts = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut events = client
        .run(request)
        .await
        .map_err(|status| RpcError::new("Run", status))?
        .into_inner();
    let mut job_id: Option<String> = None;
    let mut stopping = false;
    let mut stdout = io::stdout();
    loop {
        tokio::select! {
            event = events.next() => {
                let event = match event {
                    Some(event) => event.map_err(|status| RpcError::new("Run", status))?,
                    None if detach => bail!("kgentd closed the output stream before the job started"),
                    None => bail!("kgentd closed the output stream before the program finished"),
                };
                match event.event {
                    Some(run_event::Event::Started(started)) if detach => {
                        println!("{}", started.job_id);
                        eprintln!(
                            "job {} runs detached ({}); `kgentctl jobs` shows it, `kgentctl stop {}` ends it",
                            started.job_id,
                            started.attached.join("; "),
                            started.job_id
                        );
                        return Ok(Exit::Success);
                    }
                    Some(run_event::Event::Started(started)) => {
                        for attached in &started.attached {
                            eprintln!("  {attached}");
                        }
                        let until = if duration_s == 0 {
                            "Ctrl-C stops it".to_string()
                        } else {
                            format!("it stops after {duration_s} s, or on Ctrl-C")
                        };
                        eprintln!(
                            "attached {} probe{} (job {}); {until}",
                            started.probes,
                            plural(started.probes as usize),
                            started.job_id
                        );
                        job_id = Some(started.job_id);
                    }
                    Some(run_event::Event::Line(line)) if line.stderr => eprintln!("{}", line.text),
                    Some(run_event::Event::Line(line)) if json && !line.json.is_empty() => {
                        writeln!(stdout, "{}", line.json).context("writing to stdout")?;
                    }
                    Some(run_event::Event::Line(_)) if json => {}
                    Some(run_event::Event::Line(line)) => {
                        writeln!(stdout, "{}", line.text).context("writing to stdout")?;
                    }
                    Some(run_event::Event::Finished(finished)) => return Ok(report_finished(&finished)),
                    None => {}
                }
            }
            _ = interrupts.recv() => {
                if stopping {
                    eprintln!("leaving without waiting; kgentd kills the program");
                    return Ok(Exit::Interrupted);
                }
                let Some(job_id) = &job_id else {
                    eprintln!("interrupted before the program was attached; kgentd drops it");
                    return Ok(Exit::Interrupted);
                };
                eprintln!("stopping job {job_id} (waiting for its final output; Ctrl-C again to leave at once)");
                stopping = true;
                let stop = StopRequest { job_id: job_id.clone() };
                if let Err(status) = client.stop(stop).await {
                    eprintln!("kgentctl: {}", RpcError::new("Stop", status));
                }
            }
        }
    }
}

/// Says how the program ended; a non-zero exit status is an error.
fn report_finished(finished: &Finished) -> Exit {
    let reason = finished.reason.trim();
    if finished.exit_code == 0 {
        if !reason.is_empty() {
            eprintln!("finished: {reason}");
        }
        Exit::Success
    } else {
        eprintln!(
            "kgentctl: the program exited with status {}{}",
            finished.exit_code,
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        );
        Exit::Error
    }
}
