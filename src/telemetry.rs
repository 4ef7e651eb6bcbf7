//! Tracing set-up: logs go to standard error, never to stdout (which carries
//! the report). `RUST_LOG` filters; the default is `warn` for the CLI (its
//! output is the report) and `info` for the SCF runtime. JSON lines under SCF.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

/// Set once [`init`] installed the JSON format.
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// Whether standard error carries JSON lines (`serve`): anything else
/// written there (the console alert channel) must then be one JSON object
/// per line too, or CLS splits it into lines without a request id.
pub fn json_lines() -> bool {
    JSON_LINES.load(Ordering::Relaxed)
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Install the global subscriber. Safe to call once; later calls are ignored.
pub fn init(format: Format, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        Format::Text => builder.with_ansi(false).try_init(),
        Format::Json => {
            JSON_LINES.store(true, Ordering::Relaxed);
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true)
                .try_init()
        }
    };
}
