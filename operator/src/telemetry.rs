//! Logs: JSON lines (for cluster log collectors) unless stderr is a terminal
//! or `--log-format text`; the level from `RUST_LOG` or `--log-level`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(level: &str, json: Option<bool>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = json.unwrap_or_else(|| !std::io::stderr().is_terminal());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.init();
    }
}
