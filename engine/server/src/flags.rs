//! Command-line flags, Dragonfly-style (`--proactor_threads`, `--flagfile`), parsed by clap.
//!
//! Every flag has three more sources, in this order of precedence:
//! command line > `--flagfile FILE` > environment `DFLY_<flag>` > default.
//! We get that order from clap alone: the env and flagfile settings are turned into ordinary
//! `--flag=value` arguments and placed *before* the real command line, and clap is told that a
//! later occurrence of a flag overrides an earlier one (`args_override_self`). So the parser has
//! one set of rules and one set of error messages for all sources. Env and files are passed in
//! (not read from the process) so that tests need not touch the process environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, CommandFactory, Parser, ValueEnum};
use damselfly_core::config::{AppendFsync, Config, MaxmemoryPolicy};
use damselfly_core::cx::Plant;

/// Threads beyond this are a typo, not a machine (and `ThreadId` is a u16).
pub const PROACTOR_THREADS_MAX: u16 = 1024;
/// Redis's largest `timeout` (an int config: INT_MAX seconds).
pub const TIMEOUT_MAX_S: u64 = i32::MAX as u64;
/// Prefix of the environment variables that set flags: `DFLY_port=7000`.
pub const ENV_PREFIX: &str = "DFLY_";

/// How the proactor threads do socket I/O (`--io_backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IoBackend {
    /// An io_uring event loop per thread: one `io_uring_enter` submits a whole batch of sends
    /// and receives and waits for the next completions (uring.rs).
    Uring,
    /// A tokio runtime per thread: readiness from epoll, one syscall per read or write.
    Epoll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AppendFsyncFlag {
    Always,
    Everysec,
    No,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Damselfly: a Redis-compatible in-memory datastore.
///
/// Each flag may also be set by the environment variable DFLY_<flag> or by a line
/// `--<flag>=<value>` in the --flagfile; the command line wins, then the flagfile, then env.
#[derive(Clone, Debug, Parser)]
#[command(name = "damselfly", version, args_override_self = true)]
pub struct Flags {
    /// TCP port to listen on (0: pick a free one).
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Threads, each with one shard (0: one per core, but one on a machine of two cores or
    /// fewer).
    #[arg(long = "proactor_threads", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=i64::from(PROACTOR_THREADS_MAX)))]
    pub proactor_threads: u16,
    /// Password clients must AUTH with (empty: none).
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Number of logical databases.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub dbnum: u16,
    /// Connections open at once, beyond which new clients are refused.
    #[arg(long, default_value_t = 10_000)]
    pub maxclients: u64,
    /// Close a client idle for more than this many seconds (0: never); Redis's `timeout`.
    #[arg(long, default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=TIMEOUT_MAX_S))]
    pub timeout: u64,
    /// Without a password, refuse clients that are not on loopback.
    #[arg(long = "protected_mode", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub protected_mode: bool,
    /// Log to stderr at --loglevel; otherwise (glog's default) only warnings and errors.
    #[arg(long, default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub logtostderr: bool,
    /// Least severe level logged with --logtostderr.
    #[arg(long, value_enum, default_value_t = LogLevel::Info)]
    pub loglevel: LogLevel,
    /// File of `--flag=value` lines (`#` starts a comment line).
    #[arg(long)]
    pub flagfile: Option<PathBuf>,
    /// Memory limit for the data, split evenly over the shards: bytes or Redis units (100mb,
    /// 4gb; k/m/g are powers of 1000, kb/mb/gb of 1024); 0: no limit.
    #[arg(long, default_value = "0", value_parser = parse_memory)]
    pub maxmemory: u64,
    /// Evict keys instead of refusing writes when --maxmemory is reached (sets
    /// maxmemory-policy allkeys-lru; CONFIG SET maxmemory-policy changes it later).
    #[arg(long = "cache_mode", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub cache_mode: bool,
    /// Count every command for INFO commandstats and latencystats (time, calls, failures).
    /// Off only to measure what the counting costs; errorstats are counted either way.
    #[arg(long = "command_stats", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub command_stats: bool,
    /// Directory of the RDB file (SAVE, BGSAVE, and loading at start), as Redis's `dir`.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Name of the RDB file in --dir, loaded at start when it exists.
    #[arg(long, default_value = "dump.rdb")]
    pub dbfilename: String,
    /// Keep an append-only file of every write under --dir/appenddirname (Redis 7's multi-part
    /// layout); at start it is loaded instead of the RDB file.
    #[arg(long, default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub appendonly: bool,
    /// When the append-only file is made durable: always (before each reply), everysec, no.
    #[arg(long, value_enum, default_value_t = AppendFsyncFlag::Everysec)]
    pub appendfsync: AppendFsyncFlag,
    /// Directory of the append-only files, under --dir.
    #[arg(long, default_value = "appendonlydir", value_parser = parse_file_name)]
    pub appenddirname: String,
    /// Base name of the append-only files.
    #[arg(long, default_value = "appendonly.aof", value_parser = parse_file_name)]
    pub appendfilename: String,
    /// Load an append-only file whose last command a crash cut short (truncating it there).
    #[arg(long = "aof_load_truncated", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new())]
    pub aof_load_truncated: bool,
    /// Redis's `save` schedule: "<seconds> <changes> ...", a BGSAVE after <seconds> if at
    /// least <changes> writes happened; "" turns it off (then SIGTERM and SHUTDOWN do not save).
    #[arg(long, default_value = SAVE_DEFAULT, value_parser = parse_save)]
    pub save: String,
    /// Socket I/O: uring or epoll. Unset: uring when the kernel offers it, else epoll.
    #[arg(long = "io_backend", value_enum)]
    pub io_backend: Option<IoBackend>,
    /// TCP port for Memcached's text and meta protocols (0: off). Same shards and keyspace as
    /// RESP: an item is a string key of database 0.
    #[arg(long = "memcached_port", default_value_t = 0)]
    pub memcached_port: u16,
    /// Largest Memcached item, header included (memcached's -I): bytes or Redis units.
    #[arg(long = "memcached_item_max", default_value = "1048576", value_parser = parse_item_max)]
    pub memcached_item_max: u64,
    /// Testing only: enable a planted bug by name (repeatable, or comma-separated), so a test can
    /// prove its checker catches it. Hidden: no production run sets it.
    #[arg(long, hide = true, value_delimiter = ',', value_parser = parse_plant)]
    pub plant: Vec<Plant>,
}

/// A name inside --dir, not a path (Redis refuses `appenddirname` and `appendfilename` paths).
fn parse_file_name(value: &str) -> Result<String, String> {
    if value.is_empty() || value.contains('/') || value == "." || value == ".." {
        return Err("must be a file name, not a path".into());
    }
    Ok(value.to_string())
}

/// Redis 7.0's default `save` schedule.
pub const SAVE_DEFAULT: &str = "3600 1 300 100 60 10000";

/// `--save`: as CONFIG SET save reads it.
fn parse_save(value: &str) -> Result<String, String> {
    let mut config = Config::default();
    let param = damselfly_core::config::Param::Save;
    config
        .set(param, value.as_bytes())
        .map_err(|reason| reason.to_string())?;
    Ok(config.save)
}

/// `--maxmemory`: Redis's memtoull, as CONFIG SET maxmemory reads it.
fn parse_memory(value: &str) -> Result<u64, String> {
    damselfly_core::config::memory(value.as_bytes()).map_err(|reason| reason.to_string())
}

/// memcached's -I range: at least 1 KiB, at most 1 GiB.
fn parse_item_max(value: &str) -> Result<u64, String> {
    const ITEM_MAX_LOW_BYTES: u64 = 1024;
    const ITEM_MAX_HIGH_BYTES: u64 = 1024 * 1024 * 1024;
    let bytes = parse_memory(value)?;
    if (ITEM_MAX_LOW_BYTES..=ITEM_MAX_HIGH_BYTES).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "must be between {ITEM_MAX_LOW_BYTES} and {ITEM_MAX_HIGH_BYTES} bytes"
        ))
    }
}

fn parse_plant(name: &str) -> Result<Plant, String> {
    Plant::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Plant::ALL.iter().map(|plant| plant.name()).collect();
        format!("no planted bug {name:?}; known: {}", names.join(", "))
    })
}

#[derive(Debug)]
pub enum FlagError {
    /// Bad or unknown flag, or a request for --help / --version (see `use_stderr`).
    Clap(clap::Error),
    Flagfile {
        path: PathBuf,
        err: std::io::Error,
    },
    NestedFlagfile {
        path: PathBuf,
    },
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::Clap(err) => write!(f, "{err}"),
            FlagError::Flagfile { path, err } => {
                write!(f, "error: cannot read flagfile {}: {err}", path.display())
            }
            FlagError::NestedFlagfile { path } => {
                write!(f, "error: flagfile {} sets --flagfile", path.display())
            }
        }
    }
}

/// Parses the process's own command line, environment and flagfile.
pub fn parse_process() -> Result<Flags, FlagError> {
    parse(std::env::args_os().collect(), std::env::vars_os(), |path| {
        std::fs::read_to_string(path)
    })
}

/// Parses `cmdline` (program name first) with the env and flagfile sources merged in.
pub fn parse(
    cmdline: Vec<OsString>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    read_file: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Flags, FlagError> {
    let (program, cmdline) = match cmdline.split_first() {
        Some((program, rest)) => (program.clone(), rest.to_vec()),
        None => (OsString::from("damselfly"), Vec::new()),
    };
    let env_args = env_args(env);
    let assemble = |file_args: &[OsString]| -> Vec<OsString> {
        let sources = [env_args.as_slice(), file_args, cmdline.as_slice()];
        std::iter::once(program.clone())
            .chain(sources.into_iter().flatten().cloned())
            .collect()
    };
    // First pass: validates everything and finds the flagfile (set by env or command line).
    let first = Flags::try_parse_from(assemble(&[])).map_err(FlagError::Clap)?;
    let Some(path) = first.flagfile else {
        return Ok(first);
    };
    let text = read_file(&path).map_err(|err| FlagError::Flagfile {
        path: path.clone(),
        err,
    })?;
    let file_args = flagfile_args(&text);
    if file_args
        .iter()
        .any(|arg| arg.to_string_lossy().starts_with("--flagfile"))
    {
        return Err(FlagError::NestedFlagfile { path });
    }
    Flags::try_parse_from(assemble(&file_args)).map_err(FlagError::Clap)
}

/// `DFLY_<flag>=value` → `--<flag>=value`, for the flags we have; other variables are ignored
/// (the environment is shared with everything else on the machine).
fn env_args(env: impl IntoIterator<Item = (OsString, OsString)>) -> Vec<OsString> {
    let command = Flags::command();
    let mut args: Vec<OsString> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let flag = name.to_str()?.strip_prefix(ENV_PREFIX)?;
            let known = command
                .get_arguments()
                .any(|arg| arg.get_long() == Some(flag));
            known.then(|| {
                let mut arg = OsString::from(format!("--{flag}="));
                arg.push(value);
                arg
            })
        })
        .collect();
    // The environment has no order; sorting makes the result independent of it.
    args.sort();
    args
}

/// One argument per line, `--flag=value` (or `--flag value`); blank and `#` lines skipped.
fn flagfile_args(text: &str) -> Vec<OsString> {
    let mut args = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some((flag, value)) if !flag.contains('=') => {
                args.push(flag.into());
                args.push(value.trim_start().into());
            }
            _ => args.push(line.into()),
        }
    }
    args
}

/// The default thread count on a machine of `cores` cores: one per core, except that up to
/// `SHARED_CORES_MAX` cores it is one. On two cores the clients (or the load generator) share
/// the cores with the server, and with keys spread over both shards every other command hops:
/// measured against redis-server (issue 18, benches/RESULTS.md "Threads"), a second thread there
/// cost about twice the CPU per command and lost ops/s on every workload.
fn default_threads(cores: usize) -> u16 {
    if cores <= SHARED_CORES_MAX {
        return 1;
    }
    u16::try_from(cores)
        .unwrap_or(PROACTOR_THREADS_MAX)
        .min(PROACTOR_THREADS_MAX)
}

/// Machines this small run one thread by default (see `default_threads`).
const SHARED_CORES_MAX: usize = 2;

impl Flags {
    /// Threads to run: the flag, or `default_threads` for this machine's cores.
    pub fn threads(&self) -> u16 {
        if self.proactor_threads > 0 {
            return self.proactor_threads;
        }
        default_threads(std::thread::available_parallelism().map_or(1, usize::from))
    }

    pub fn tracing_level(&self) -> tracing::Level {
        if !self.logtostderr {
            return tracing::Level::WARN;
        }
        match self.loglevel {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }

    /// The planted bugs as the engine's `CxOptions::plants` bit set (0 in production).
    pub fn plants(&self) -> u64 {
        self.plant
            .iter()
            .fold(0, |bits, &plant| bits | (1u64 << plant as u8))
    }

    /// The engine's settings; `port` is the one actually bound (it differs for `--port 0`).
    pub fn config(&self, port: u16) -> Config {
        Config {
            databases: usize::from(self.dbnum),
            // Redis treats an empty requirepass as no password.
            requirepass: self
                .requirepass
                .clone()
                .filter(|pass| !pass.is_empty())
                .map(String::into_bytes),
            maxclients: self.maxclients,
            timeout_s: self.timeout,
            protected_mode: self.protected_mode,
            bind: self.bind.clone(),
            port,
            maxmemory_bytes: self.maxmemory,
            maxmemory_policy: if self.cache_mode {
                MaxmemoryPolicy::AllkeysLru
            } else {
                MaxmemoryPolicy::NoEviction
            },
            dir: self.dir.to_string_lossy().into_owned(),
            dbfilename: self.dbfilename.clone(),
            appendonly: self.appendonly,
            appendfsync: match self.appendfsync {
                AppendFsyncFlag::Always => AppendFsync::Always,
                AppendFsyncFlag::Everysec => AppendFsync::EverySec,
                AppendFsyncFlag::No => AppendFsync::No,
            },
            appenddirname: self.appenddirname.clone(),
            appendfilename: self.appendfilename.clone(),
            aof_load_truncated: self.aof_load_truncated,
            command_stats: self.command_stats,
            save: self.save.clone(),
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        std::iter::once("damselfly")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn no_file(path: &Path) -> std::io::Result<String> {
        panic!("unexpected read of {}", path.display())
    }

    fn parse_ok(args: &[&str], vars: &[(&str, &str)], file: &str) -> Flags {
        parse(os(args), env(vars), |_| Ok(file.to_string())).unwrap()
    }

    #[test]
    fn maxmemory_takes_redis_units_and_cache_mode_evicts() {
        let flags = parse_ok(&["--maxmemory", "100mb", "--cache_mode"], &[], "");
        let config = flags.config(6379);
        assert_eq!(config.maxmemory_bytes, 100 * 1024 * 1024);
        assert_eq!(config.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
        let flags = parse_ok(&[], &[("DFLY_maxmemory", "4gb")], "");
        assert_eq!(flags.config(6379).maxmemory_bytes, 4 << 30);
        assert_eq!(
            flags.config(6379).maxmemory_policy,
            MaxmemoryPolicy::NoEviction
        );
        assert_eq!(parse_ok(&["--maxmemory=12345"], &[], "").maxmemory, 12345);
        assert!(parse(os(&["--maxmemory", "-1"]), env(&[]), no_file).is_err());
        assert!(parse(os(&["--maxmemory", "10xb"]), env(&[]), no_file).is_err());
    }

    /// Redis 7.0's default schedule; "" turns it off; CONFIG SET's rules and error apply.
    #[test]
    fn save_schedule_defaults_to_redis_and_is_validated() {
        let config = parse_ok(&[], &[], "").config(6379);
        assert_eq!(config.save, "3600 1 300 100 60 10000");
        let config = parse_ok(&["--save", ""], &[], "").config(6379);
        assert_eq!(config.save, "");
        let config = parse_ok(&["--save", " 10  2 "], &[], "").config(6379);
        assert_eq!(config.save, "10 2");
        for bad in ["10", "0 1", "x 1", "10 -1"] {
            let err = parse(os(&["--save", bad]), env(&[]), no_file).unwrap_err();
            assert!(
                format!("{err:?}").contains("Invalid save parameters"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn timeout_sets_the_idle_client_timeout() {
        let flags = parse_ok(&["--timeout", "30"], &[], "");
        assert_eq!(flags.config(6379).timeout_s, 30);
        let flags = parse_ok(&[], &[("DFLY_timeout", "5")], "");
        assert_eq!(flags.config(6379).timeout_s, 5);
        assert!(parse(os(&["--timeout", "-1"]), env(&[]), no_file).is_err());
        assert!(parse(os(&["--timeout", "2147483648"]), env(&[]), no_file).is_err());
    }

    #[test]
    fn defaults() {
        let flags = parse(os(&[]), env(&[]), no_file).unwrap();
        assert_eq!(flags.port, 6379);
        assert_eq!(flags.bind, "127.0.0.1");
        assert_eq!(flags.proactor_threads, 0);
        assert_eq!(flags.requirepass, None);
        assert_eq!(flags.dbnum, 16);
        assert_eq!(flags.maxclients, 10_000);
        assert_eq!(flags.timeout, 0);
        assert!(flags.protected_mode);
        assert!(!flags.logtostderr);
        assert_eq!(flags.loglevel, LogLevel::Info);
        assert!(flags.threads() >= 1);
        assert_eq!([1, 2, 3, 8].map(default_threads), [1, 1, 3, 8]);
        assert_eq!(default_threads(1 << 20), PROACTOR_THREADS_MAX);
        // The engine's own default has no schedule (tests and the simulator); the binary's
        // is Redis's.
        let redis_schedule = Config {
            save: SAVE_DEFAULT.into(),
            ..Config::default()
        };
        assert_eq!(flags.config(6379), redis_schedule);
        assert_eq!(flags.plants(), 0);
        assert_eq!(
            flags.io_backend, None,
            "unset: the server probes the kernel"
        );
    }

    #[test]
    fn io_backend_by_flag_or_env() {
        let flags = parse_ok(&["--io_backend=epoll"], &[], "");
        assert_eq!(flags.io_backend, Some(IoBackend::Epoll));
        let flags = parse_ok(&[], &[("DFLY_io_backend", "uring")], "");
        assert_eq!(flags.io_backend, Some(IoBackend::Uring));
        assert!(parse(os(&["--io_backend=kqueue"]), env(&[]), no_file).is_err());
    }

    #[test]
    fn plants_by_name() {
        let flags = parse_ok(
            &[
                "--plant",
                "skip-intent-locks",
                "--plant=lose-a-wakeup,drop-message",
            ],
            &[],
            "",
        );
        let expected = [
            Plant::SkipIntentLocks,
            Plant::LoseWakeup,
            Plant::DropMessage,
        ]
        .iter()
        .fold(0, |bits, &plant| bits | (1u64 << plant as u8));
        assert_eq!(flags.plants(), expected);
        let err = parse(os(&["--plant=no-such-bug"]), env(&[]), no_file).unwrap_err();
        assert!(err.to_string().contains("skip-intent-locks"), "{err}");
        let Err(FlagError::Clap(help)) = parse(os(&["--help"]), env(&[]), no_file) else {
            panic!("--help must stop parsing")
        };
        assert!(!help.to_string().contains("--plant"), "the flag is hidden");
    }

    #[test]
    fn command_line_forms() {
        let flags = parse_ok(
            &[
                "--port",
                "7400",
                "--proactor_threads=2",
                "--protected_mode=false",
            ],
            &[],
            "",
        );
        assert_eq!((flags.port, flags.proactor_threads), (7400, 2));
        assert!(!flags.protected_mode);
        assert_eq!(flags.threads(), 2);
        let flags = parse_ok(&["--logtostderr", "--loglevel", "debug"], &[], "");
        assert!(flags.logtostderr);
        assert_eq!(flags.tracing_level(), tracing::Level::DEBUG);
    }

    #[test]
    fn precedence_cmdline_over_flagfile_over_env_over_default() {
        let vars = [
            ("DFLY_port", "1000"),
            ("DFLY_dbnum", "3"),
            ("DFLY_maxclients", "5"),
            ("DFLY_flagfile", "/etc/dfly.flags"),
            ("HOME", "/root"),
            ("DFLY_no_such_flag", "1"),
        ];
        let file = "# comment\n--port=2000\n\n--dbnum 4\n";
        let flags = parse_ok(&["--port=3000"], &vars, file);
        assert_eq!(flags.port, 3000, "command line beats flagfile");
        assert_eq!(flags.dbnum, 4, "flagfile beats env");
        assert_eq!(flags.maxclients, 5, "env beats default");
        assert_eq!(flags.bind, "127.0.0.1", "default");
    }

    #[test]
    fn flagfile_from_command_line() {
        let flags = parse_ok(
            &["--flagfile", "f"],
            &[],
            "--requirepass=s3cret\n--bind=0.0.0.0",
        );
        assert_eq!(flags.requirepass.as_deref(), Some("s3cret"));
        let config = flags.config(6379);
        assert_eq!(config.requirepass.as_deref(), Some(&b"s3cret"[..]));
        assert_eq!(config.bind, "0.0.0.0");
    }

    #[test]
    fn empty_requirepass_means_none() {
        let flags = parse_ok(&["--requirepass="], &[], "");
        assert_eq!(flags.config(1).requirepass, None);
    }

    #[test]
    fn unknown_flag_is_an_error() {
        let err = parse(os(&["--no_such_flag=1"]), env(&[]), no_file).unwrap_err();
        let FlagError::Clap(err) = err else {
            panic!("{err}")
        };
        assert!(err.use_stderr());
        assert!(err.to_string().contains("--no_such_flag"), "{err}");
    }

    #[test]
    fn unknown_flag_in_flagfile_is_an_error() {
        let err = parse(os(&["--flagfile=f"]), env(&[]), |_| Ok("--bogus=1".into()));
        assert!(matches!(err, Err(FlagError::Clap(_))));
    }

    #[test]
    fn bad_values_are_errors() {
        for args in [
            &["--port=70000"][..],
            &["--dbnum=0"],
            &["--proactor_threads=5000"],
            &["--protected_mode=maybe"],
            &["--loglevel=loud"],
        ] {
            assert!(parse(os(args), env(&[]), no_file).is_err(), "{args:?}");
        }
    }

    #[test]
    fn unreadable_and_nested_flagfiles_are_errors() {
        let err = parse(os(&["--flagfile=f"]), env(&[]), |_| {
            Err(std::io::ErrorKind::NotFound.into())
        });
        assert!(matches!(err, Err(FlagError::Flagfile { .. })));
        let err = parse(os(&["--flagfile=f"]), env(&[]), |_| {
            Ok("--flagfile=g".into())
        });
        assert!(matches!(err, Err(FlagError::NestedFlagfile { .. })));
    }

    #[test]
    fn help_is_not_an_error() {
        let Err(FlagError::Clap(err)) = parse(os(&["--help"]), env(&[]), no_file) else {
            panic!("--help must stop parsing")
        };
        assert!(!err.use_stderr());
        assert!(err.to_string().contains("--proactor_threads"));
    }
}
