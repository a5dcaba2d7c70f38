//! pbxctl: git-ops for pbx tenants (validate, plan, apply, rollback) and a window on the
//! running node.

mod client;
mod commands;
mod output;
mod top;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes that tell a pipeline what went wrong.
pub mod exit {
    /// Invalid input: the tenant files (or arguments) have problems.
    pub const INVALID: u8 = 1;
    /// The server refused: conflict, authentication, or a server-side error.
    pub const REFUSED: u8 = 2;
    /// The server could not be reached.
    pub const UNREACHABLE: u8 = 3;
}

#[derive(Parser)]
#[command(name = "pbxctl", version, about = "Manage pbx tenants the git-ops way, and look at a running pbxd")]
struct Cli {
    /// Where pbxd listens: unix:PATH, https://HOST:PORT or http://HOST:PORT.
    #[arg(long, global = true, env = "PBXCTL_SERVER", default_value = "unix:/run/pbx/admin.sock")]
    server: String,
    /// Bearer token for a TCP server.
    #[arg(long, global = true, env = "PBXCTL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A CA certificate (PEM) to trust for an https:// server, beside the system's.
    #[arg(long, global = true, env = "PBXCTL_CA")]
    ca: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check tenant files offline: syntax, schema and semantic rules; every problem at once.
    Validate {
        /// Tenant files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the JSON Schemas of tenant files and pbxd.toml.
    Schema {
        /// Directory to write tenant.schema.json and pbxd.schema.json into.
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
    /// Show what an apply of these files would change on the running node.
    Plan {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also remove running tenants that are not among the files.
        #[arg(long)]
        prune: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Validate, show the plan, and make it the running revision.
    Apply {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also remove running tenants that are not among the files.
        #[arg(long)]
        prune: bool,
        /// Apply without asking.
        #[arg(long, short)]
        yes: bool,
        /// Name recorded in the history; defaults to $USER@host.
        #[arg(long)]
        author: Option<String>,
    },
    /// Make an earlier revision run again (as a new revision).
    Rollback {
        /// The revision to return to; default: the one before the running one.
        #[arg(long)]
        to: Option<i64>,
        #[arg(long, short)]
        yes: bool,
        #[arg(long)]
        author: Option<String>,
    },
    /// List revisions, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// List running objects: tenants, extensions, dids, trunks, routes, schedules, ivrs,
    /// queues, blacklists, conferences, voicemails, faxes, sounds, webhooks, api_users.
    Get {
        kind: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Registered phones: address of record, contact, source address, transport, user
    /// agent, expiry.
    Registrations {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Live calls: tenant, parties, state, duration, codec.
    Calls {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Trunks: carrier, state (up, down, unknown), registration, round trip, why.
    Trunks {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Finished calls (CDRs), newest first.
    Cdr {
        #[arg(long)]
        tenant: Option<String>,
        /// Calls that started at or after this time (RFC 3339 or a date) or this long ago (90m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(short, long, value_enum, default_value_t = commands::calls::CdrOutput::Table)]
        output: commands::calls::CdrOutput,
    },
    /// Live dashboard: calls, registrations, trunks, queues, latest CDRs (q quits).
    Top {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The running revision and tenant count.
    Status,
    /// Make the hashes that tenant files and pbxd.toml hold instead of secrets.
    #[command(subcommand)]
    Secret(commands::secret::SecretCommand),
}

fn main() -> ExitCode {
    // Piped into `head` or `grep -q`, pbxctl ends quietly like other Unix tools instead of
    // failing on the closed pipe.
    // SAFETY: resets one signal's disposition at start, before any thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let server = client::Server { address: cli.server, token: cli.token, ca: cli.ca };
    let code = match cli.command {
        Command::Validate { paths, format } => commands::validate::run(&paths, format),
        Command::Schema { out } => commands::schema::run(&out),
        Command::Plan { paths, prune, format } => commands::apply::plan(&server, &paths, prune, format),
        Command::Apply { paths, prune, yes, author } => commands::apply::apply(&server, &paths, prune, yes, author),
        Command::Rollback { to, yes, author } => commands::apply::rollback(&server, to, yes, author),
        Command::History { limit, output } => commands::get::history(&server, limit, output),
        Command::Get { kind, tenant, output } => commands::get::objects(&server, &kind, tenant.as_deref(), output),
        Command::Registrations { tenant, output } => commands::get::registrations(&server, tenant.as_deref(), output),
        Command::Calls { tenant, output } => commands::calls::calls(&server, tenant.as_deref(), output),
        Command::Trunks { tenant, output } => commands::trunks::trunks(&server, tenant.as_deref(), output),
        Command::Cdr { tenant, since, limit, output } => {
            commands::calls::cdr(&server, tenant.as_deref(), since.as_deref(), limit, output)
        }
        Command::Top { tenant } => top::run(server, tenant),
        Command::Status => commands::get::status(&server),
        Command::Secret(cmd) => commands::secret::run(cmd),
    };
    ExitCode::from(code)
}
