//! `mailscope CAPTURE`: what the mail traffic in a capture file carried.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mailscope_harness::extract::extract;
use mailscope_harness::{analyze_file, render, Options};

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
}

#[derive(Parser, Debug)]
#[command(
    name = "mailscope",
    version,
    about = "Looks inside SMTP and POP3 traffic in pcap and pcapng captures"
)]
struct Args {
    /// The capture file (pcap or pcapng).
    capture: PathBuf,
    /// Output format [default: tree; with --extract, a list of the files written].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write every message (.eml) and every attachment (under its decoded
    /// name) into DIR, with DIR/manifest.json saying where each came from.
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// Read message text and headers that declare no charset and are not
    /// UTF-8 in this charset (e.g. gb18030, as Chinese clients often omit it).
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    let size = std::fs::metadata(&args.capture)
        .map(|m| m.len())
        .unwrap_or(0);
    let bar = (std::io::stderr().is_terminal() && size >= PROGRESS_MIN_BYTES).then(|| {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let options = Options {
        smtp_ports: args.smtp_ports.clone(),
        pop3_ports: args.pop3_ports.clone(),
        default_charset: args.default_charset.clone(),
        skip_mime: args.no_mime,
    };
    let report = analyze_file(&args.capture, options, |read| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut text = match (args.format, &args.extract) {
        (Some(Format::Tree), _) | (None, None) => render::tree(&report),
        (Some(Format::Json), _) => render::json_lines(&report),
        (Some(Format::Summary), _) => render::summary(&report),
        (Some(Format::Sessions), _) => {
            mailscope_harness::sessions::json_lines(&report, &args.capture.display().to_string())
        }
        (None, Some(_)) => String::new(),
    };
    if let Some(dir) = &args.extract {
        match extract(&report, dir, args.default_charset.as_deref()) {
            Ok(files) if args.format.is_none() => {
                for file in files {
                    text.push_str(&format!(
                        "{}\t{} bytes\tsha256 {}\n",
                        file.path.display(),
                        file.size,
                        file.sha256
                    ));
                }
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("mailscope: cannot write into {}: {error}", dir.display());
                return ExitCode::from(1);
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    match &report.error {
        Some(error) => {
            eprintln!("mailscope: {}: {error}", args.capture.display());
            ExitCode::from(2)
        }
        None => ExitCode::SUCCESS,
    }
}
