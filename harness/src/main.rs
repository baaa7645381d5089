//! `mailscope CAPTURE...`: what the mail traffic in capture files carried.
//!
//! Exit status: 0 when every capture was read to its end, 1 when one could
//! not be (missing, not a capture, truncated, corrupt: what was read before
//! the fault is still reported) or the output could not be written, 2 for a
//! usage error.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Seek, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mailscope::Protocol;
use mailscope_harness::capture::find_captures;
use mailscope_harness::extract::Extractor;
use mailscope_harness::filter::Filter;
use mailscope_harness::writer::{Form, Writer};
use mailscope_harness::{analyze_into, Options};

// The analysis allocates many small short-lived objects (items, PDUs):
// mimalloc's thread-local free lists cut the time they take.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Progress is shown for captures at least this large, when stderr is a terminal.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    /// A readable tree per frame, like `tshark -V` limited to mail fields.
    Tree,
    /// One JSON object per line for each frame carrying mail fields.
    Json,
    /// Credentials and messages per connection.
    Summary,
    /// One JSON record per connection: endpoints, times, TLS, logins,
    /// transactions, messages and attachments, POP3 commands, anomalies.
    Sessions,
    /// The session records of every capture as one Parquet file (for
    /// DuckDB, Spark, pandas); needs --output or a redirected stdout.
    Parquet,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ProtocolArg {
    Smtp,
    Pop3,
}

#[derive(Parser, Debug)]
#[command(
    name = "mailscope",
    version,
    about = "Looks inside SMTP and POP3 traffic in pcap and pcapng captures",
    after_help = "Exit status: 0 every capture read to its end; 1 a capture could not be read \
(what was read before the fault is still reported) or the output not written; 2 usage error."
)]
struct Args {
    /// Capture files (pcap or pcapng, optionally gzip- or zstd-compressed),
    /// directories (every capture below them), or `-` for standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<PathBuf>,
    /// Output format [default: tree; with --extract, a list of the files written].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write every message (.eml) and every attachment (under its decoded
    /// name) into DIR, with DIR/manifest.json saying where each came from
    /// (one folder per capture when there are several).
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// Read message text and headers that declare no charset and are not
    /// UTF-8 in this charset (e.g. gb18030, as Chinese clients often omit it)
    /// instead of the charset guessed from them.
    #[arg(long, value_name = "CHARSET")]
    default_charset: Option<String>,
    /// Do not decode messages (no mail.msg or mail.mime fields): faster when
    /// only sessions and credentials matter.
    #[arg(long)]
    no_mime: bool,
    /// Also treat this TCP port as SMTP (repeatable); 25, 587 and 2525 always are,
    /// and SMTP on any other port is found by its content.
    #[arg(long = "smtp-port", value_name = "PORT")]
    smtp_ports: Vec<u16>,
    /// Also treat this TCP port as POP3 (repeatable); 110 always is, and POP3
    /// on any other port is found by its content.
    #[arg(long = "pop3-port", value_name = "PORT")]
    pop3_ports: Vec<u16>,
    /// Only connections of this protocol.
    #[arg(long, value_enum)]
    protocol: Option<ProtocolArg>,
    /// Only this connection (repeatable), numbered as without filters.
    #[arg(long, value_name = "ID")]
    connection: Vec<usize>,
    /// Only connections with this client or server address (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    host: Vec<IpAddr>,
    /// Only the logins: connections with a credential, and of them the PDUs
    /// that carry a credential or its outcome.
    #[arg(long)]
    credentials_only: bool,
    /// Captures analysed at once [default: the number of cores].
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Decrypt TLS with this key log (the SSLKEYLOGFILE format Wireshark
    /// reads): STARTTLS/STLS sessions, and SMTP on 465 and POP3 on 995.
    #[arg(long, value_name = "FILE")]
    tls_keylog: Option<PathBuf>,
    /// End a connection after this many seconds of capture time without a
    /// packet, releasing its state [default: 600].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// Threads that decode messages beside the analysis of a capture, 0 to
    /// decode them in line [default: the number of cores for one capture,
    /// 0 when several are analysed at once].
    #[arg(long, value_name = "N")]
    mime_threads: Option<usize>,
    /// Write the output to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// What one capture gave besides its output: session records for
/// Parquet, and why it could not be read whole or its output not written.
struct Outcome {
    records: Vec<serde_json::Value>,
    error: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut inputs = Vec::new();
    for capture in &args.captures {
        if capture.is_dir() {
            let found = find_captures(capture);
            if found.is_empty() {
                eprintln!(
                    "mailscope: {}: no pcap or pcapng files in this directory",
                    capture.display()
                );
                return ExitCode::from(1);
            }
            inputs.extend(found);
        } else {
            inputs.push(capture.clone());
        }
    }
    let keylog = match &args.tls_keylog {
        Some(path) => match mailscope_harness::tls::KeyLog::from_file(path) {
            Ok(log) => Some(std::sync::Arc::new(log)),
            Err(e) => {
                eprintln!("mailscope: {}: cannot read key log: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let several = inputs.len() > 1;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores).clamp(1, inputs.len());
    let parquet = matches!(args.format, Some(Format::Parquet));
    if parquet && args.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("mailscope: Parquet is binary: give --output FILE or redirect standard output");
        return ExitCode::from(2);
    }
    let mut stdout: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Box::new(std::io::BufWriter::new(file)),
            Err(e) => {
                eprintln!("mailscope: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        // Written a frame or a connection at a time: buffered, not a write per line.
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        )),
    };
    let mut failed = false;
    let mut write_failed = false;
    let mut records = Vec::new();
    let mut report = |index: usize, outcome: Outcome| {
        records.extend(outcome.records);
        if let Some(error) = outcome.error {
            eprintln!("mailscope: {}: {error}", inputs[index].display());
            failed = true;
        }
    };
    if jobs == 1 {
        // One at a time: each capture's output goes straight out as it is found.
        for (index, path) in inputs.iter().enumerate() {
            let threads = args.mime_threads.unwrap_or(cores);
            let outcome = run_one(&args, keylog.clone(), path, (several, threads), &mut stdout);
            report(index, outcome);
        }
    } else {
        // Several at once: each into a temporary file, copied out in the
        // order the captures were given, whichever finishes first.
        let next = AtomicUsize::new(0);
        let (sender, receiver) =
            mpsc::channel::<(usize, std::io::Result<std::fs::File>, Outcome)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let sender = sender.clone();
                let (next, inputs, args, keylog) = (&next, &inputs, &args, &keylog);
                scope.spawn(move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = inputs.get(index) else { break };
                    let (file, outcome) = match tempfile::tempfile() {
                        Ok(mut file) => {
                            let mut out = std::io::BufWriter::new(&mut file);
                            let outcome =
                                run_one(args, keylog.clone(), path, (several, 0), &mut out);
                            drop(out);
                            (Ok(file), outcome)
                        }
                        Err(e) => (
                            Err(e),
                            Outcome {
                                records: Vec::new(),
                                error: None,
                            },
                        ),
                    };
                    if sender.send((index, file, outcome)).is_err() {
                        break;
                    }
                });
            }
            drop(sender);
            let mut waiting = BTreeMap::new();
            let mut expected = 0;
            for (index, file, outcome) in receiver {
                waiting.insert(index, (file, outcome));
                while let Some((file, outcome)) = waiting.remove(&expected) {
                    let copied = file.and_then(|mut file| {
                        file.seek(std::io::SeekFrom::Start(0))?;
                        std::io::copy(&mut file, &mut stdout)
                    });
                    if let Err(e) = copied {
                        eprintln!("mailscope: cannot write the output: {e}");
                        write_failed = true;
                    }
                    report(expected, outcome);
                    expected += 1;
                }
            }
        });
    }
    if parquet {
        let mut file = Vec::new();
        match mailscope_harness::parquet::write_sessions(&records, &mut file) {
            Ok(()) => write_failed |= stdout.write_all(&file).is_err(),
            Err(e) => {
                eprintln!("mailscope: cannot write Parquet: {e}");
                write_failed = true;
            }
        }
    }
    if write_failed || stdout.flush().is_err() {
        return ExitCode::from(1);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn progress_bar(path: &Path, several: bool) -> Option<ProgressBar> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let compressed = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("gz" | "zst")
    );
    (!several && !compressed && std::io::stderr().is_terminal() && size >= PROGRESS_MIN_BYTES).then(
        || {
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        },
    )
}

/// Analyses one capture and writes its output to `out` as it goes, with
/// `mime_threads` threads decoding its messages beside the analysis.
fn run_one(
    args: &Args,
    tls_keylog: Option<std::sync::Arc<mailscope_harness::tls::KeyLog>>,
    path: &Path,
    (several, mime_threads): (bool, usize),
    out: &mut dyn Write,
) -> Outcome {
    let options = Options {
        smtp_ports: args.smtp_ports.clone(),
        pop3_ports: args.pop3_ports.clone(),
        default_charset: args.default_charset.clone(),
        skip_mime: args.no_mime,
        tls_keylog,
        idle_timeout: args.idle_timeout.map(std::time::Duration::from_secs),
        mime_threads,
    };
    let filter = Filter {
        protocol: args.protocol.map(|p| match p {
            ProtocolArg::Smtp => Protocol::Smtp,
            ProtocolArg::Pop3 => Protocol::Pop3,
        }),
        connections: args.connection.clone(),
        hosts: args.host.clone(),
        credentials_only: args.credentials_only,
    };
    let form = match (args.format, &args.extract) {
        (Some(Format::Tree), _) | (None, None) => Form::Tree,
        (Some(Format::Json), _) => Form::Json,
        (Some(Format::Summary), _) => Form::Summary,
        (Some(Format::Sessions), _) => Form::Sessions,
        (Some(Format::Parquet), _) => Form::Records,
        (None, Some(_)) => Form::Files,
    };
    let file = path.display().to_string();
    let mut writer = Writer::new(form, &file, filter, out);
    if several && matches!(form, Form::Tree | Form::Summary) {
        writer = writer.headed();
    }
    if let Some(dir) = &args.extract {
        let dir = if several {
            dir.join(path.file_name().unwrap_or(path.as_os_str()))
        } else {
            dir.clone()
        };
        match Extractor::new(&dir, args.default_charset.as_deref()) {
            Ok(extractor) => writer = writer.extracting(extractor),
            Err(e) => {
                return Outcome {
                    records: Vec::new(),
                    error: Some(format!("cannot write into {}: {e}", dir.display())),
                }
            }
        }
    }
    let bar = progress_bar(path, several);
    let writer = analyze_into(path, options, writer, |read| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let error = writer.errors();
    Outcome {
        records: writer.into_records(),
        error,
    }
}
