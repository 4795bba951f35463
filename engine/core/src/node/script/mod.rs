//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts run on copies of the entries they
//! touch, and their changes are stored back all at once (papers/scripting.md).
//!
//! A script whose declared keys all live on this thread's shard runs at once, its copies taken
//! from the local shard as its calls reach them. Any other script, or one whose call reaches a
//! key this shard cannot lend (another shard's, or one behind a transaction's intents), runs as
//! a VLL transaction over its declared keys and the keys it reached: the copies are fetched
//! under the intents, the script runs at the coordinator, and the stores conclude it. A run that
//! reaches a key outside its copies is aborted (nothing was visible) and starts again with that
//! key among them.

pub mod api;
pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod function;
pub mod library;
pub mod structlib;
pub mod vm;

use std::cell::RefCell;
use std::collections::BTreeMap;

use mlua::{MultiValue, Value};

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::scripting::{FunctionCmd, ScriptCmd, SCRIPT_HELP};
use crate::cmd::{flag, ConnCmd, Exec};
use crate::conn::Conn;
use crate::cx::{Cx, ThreadId};
use crate::db::Entry;
use crate::error::CmdError;
use crate::hop::{GatherState, HopOp, NodeOp, Pending, Plan};
use crate::node::{shard_of, Flow, Node};
use crate::reply::Reply;
use crate::shard::Shard;
use crate::tx::{LockMode, LockSet};

use vm::{CallbackError, LuaResp, RaisedKind, Vm};

/// A run that keeps reaching new keys stops after this many attempts with an error rather
/// than loop: each attempt adds at least one key, so only a script that names keys without end
/// (from random data) gets here.
const ATTEMPTS_MAX: usize = 64;

/// The lowercase hex SHA1 Redis names scripts by.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// The flags Redis 7.0 accepts after `#!lua flags=`.
const SHEBANG_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// What a script's `#!lua` line declares: None without a shebang, else whether it may write
/// (no `no-writes`). `allow-oom`, `allow-stale`, `no-cluster` and `allow-cross-slot-keys` are
/// accepted and change nothing here (no replica, no cluster, and scripts do not take Redis's
/// memory step yet).
pub fn shebang_may_write(body: &[u8]) -> Result<Option<bool>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut may_write = true;
    for part in parts {
        let Some(flags) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            if !SHEBANG_FLAGS.contains(&flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {flag}"));
            }
            may_write &= flag != "no-writes";
        }
    }
    Ok(Some(may_write))
}

/// This thread's script cache and Lua state (created on first use).
pub struct Scripting {
    vm: Option<Vm>,
    /// rand48's state for `math.random`, kept across Lua states.
    rand: std::rc::Rc<std::cell::Cell<u64>>,
    /// The scratch shard of the last run, emptied, for the next (a fresh shard per script
    /// costs more than the script).
    spare: Option<Shard>,
    /// Bodies by SHA1; the same on every thread (loads and flushes are broadcast).
    bodies: BTreeMap<String, Vec<u8>>,
    /// The libraries; the same on every thread (each change is broadcast whole).
    libraries: function::Libraries,
    /// The Lua state functions run in, apart from EVAL's (SCRIPT FLUSH leaves it).
    fn_vm: Option<FunctionVm>,
    /// Loads made on this thread, for library ids unique across threads.
    loads: u64,
}

/// A thread's Lua state for functions, caught up with `Scripting::libraries` before a call.
struct FunctionVm {
    vm: Vm,
    env: library::FunctionEnv,
    /// Callbacks by lowercased function name.
    callbacks: BTreeMap<String, mlua::Function>,
    /// Library name to the id loaded here and its functions' lowercased names.
    loaded: BTreeMap<String, (u64, Vec<String>)>,
}

impl FunctionVm {
    fn open(rand: std::rc::Rc<std::cell::Cell<u64>>) -> FunctionVm {
        let vm = Vm::new(rand).expect("the Lua state opens");
        let env = library::install(&vm).expect("the functions environment installs");
        FunctionVm {
            vm,
            env,
            callbacks: BTreeMap::new(),
            loaded: BTreeMap::new(),
        }
    }

    /// Loads the libraries this state has not loaded and drops those gone or replaced; one
    /// library changing leaves the others' Lua values as they were.
    fn catch_up(&mut self, libs: &function::Libraries) {
        let stale: Vec<String> = self
            .loaded
            .iter()
            .filter(|(name, (id, _))| libs.get(name).is_none_or(|lib| lib.id != *id))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let (_, functions) = self.loaded.remove(&name).expect("listed above");
            for f in functions {
                self.callbacks.remove(&f);
            }
        }
        for lib in libs.iter() {
            if self.loaded.contains_key(&lib.name) {
                continue;
            }
            // The thread that accepted the library loaded this same code: it loads here too.
            let registered = library::load(&self.vm, &self.env, lib.body()).unwrap_or_default();
            let mut names = Vec::new();
            for r in registered {
                let name = r.meta.name.to_lowercase();
                self.callbacks.entry(name.clone()).or_insert(r.callback);
                names.push(name);
            }
            self.loaded.insert(lib.name.clone(), (lib.id, names));
        }
    }
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scripting({} scripts)", self.bodies.len())
    }
}

impl Default for Scripting {
    fn default() -> Scripting {
        Scripting {
            vm: None,
            rand: std::rc::Rc::new(std::cell::Cell::new(api::RAND48_INITIAL)),
            spare: None,
            bodies: BTreeMap::new(),
            libraries: function::Libraries::default(),
            fn_vm: None,
            loads: 0,
        }
    }
}

impl Scripting {
    fn open_vm(&self) -> Vm {
        Vm::new(self.rand.clone()).expect("the Lua state opens")
    }

    /// Adds a body to this thread's cache (a load here or broadcast from another thread).
    pub fn remember(&mut self, sha: String, body: Vec<u8>) {
        self.bodies.insert(sha, body);
    }

    /// SCRIPT FLUSH: the bodies go, and the Lua state with its compiled functions is closed,
    /// its memory released at once (Redis's fix for growth through SCRIPT FLUSH).
    pub fn flush(&mut self) {
        self.bodies.clear();
        self.vm = None;
    }

    /// The libraries after a change made on another thread.
    pub fn set_libraries(&mut self, libraries: function::Libraries) {
        self.libraries = libraries;
    }

    /// The functions' Lua state, caught up with the libraries.
    fn function_vm(&mut self) -> &mut FunctionVm {
        let rand = self.rand.clone();
        let fvm = self.fn_vm.get_or_insert_with(|| FunctionVm::open(rand));
        fvm.catch_up(&self.libraries);
        fvm
    }
}

/// One script invocation: its body, keys and arguments.
#[derive(Clone, Debug)]
pub struct ScriptJob {
    /// The script's SHA1, or the function's name (error texts name it).
    pub sha: String,
    pub body: Vec<u8>,
    /// FCALL: the function's lowercased name (`body` is empty).
    pub function: Option<String>,
    pub keys: Vec<Vec<u8>>,
    pub args: Vec<Vec<u8>>,
    pub read_only: bool,
    pub db: usize,
    /// Keys earlier attempts reached beyond the declared ones.
    pub reached: Vec<Vec<u8>>,
    pub attempts: usize,
    /// The last attempt aborted: the next starts once its transaction concluded.
    pub restart: bool,
    /// It runs in a hop of an EXEC body, whose transaction holds every key of the shard: the
    /// shard's keys are its to use even though intents cover them.
    pub in_exec: bool,
}

/// Where a run's copies come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Lent by this thread's shard as calls reach them, when no queued transaction covers them.
    Local,
    /// Lent by this thread's shard inside EXEC, whose own intents cover every key.
    LocalHeld,
    /// Fetched under the script's transaction: nothing else can be reached.
    Fetched,
}

/// Entries to store back: (database, key, new entry or None for deleted).
pub(crate) type Stores = Vec<(u16, Vec<u8>, Option<Entry>)>;

/// What a run raised, and where in the script.
type Raised = (RaisedKind, Option<(String, usize)>);

/// The entries a run works on.
struct Copies {
    scratch: Shard,
    now_ms: u64,
    source: Source,
    /// (database, key, entry before the run) of every key copied in.
    loaded: Vec<(u16, Vec<u8>, Option<Entry>)>,
    /// Keys a call reached that could not be copied: the run aborts.
    missing: Vec<Vec<u8>>,
}

impl Copies {
    fn new(node: &mut Node, now_ms: u64, source: Source) -> Copies {
        let mut scratch = node
            .scripting
            .spare
            .take()
            .unwrap_or_else(|| Shard::new(node.config.databases, 0));
        scratch.limits = node.shard.limits;
        scratch.modified_log = Some(Vec::new());
        Copies {
            scratch,
            now_ms,
            source,
            loaded: Vec::new(),
            missing: Vec::new(),
        }
    }

    fn add(&mut self, db: u16, key: Vec<u8>, entry: Option<Entry>) {
        if let Some(e) = &entry {
            self.scratch.db(db as usize).insert(e.clone(), self.now_ms);
        }
        self.loaded.push((db, key, entry));
    }

    /// Makes sure `key` is among the copies; false when it cannot be (the run must abort).
    fn reach(&mut self, node: &mut Node, db: u16, key: &[u8]) -> bool {
        if self.loaded.iter().any(|(d, k, _)| *d == db && k == key) {
            return true;
        }
        let lendable = match self.source {
            Source::Fetched => false,
            Source::LocalHeld => shard_of(key, node.threads) == node.thread,
            Source::Local => {
                shard_of(key, node.threads) == node.thread
                    && (node.txq.is_empty() || !node.txq.blocks(db, key, LockMode::Exclusive))
            }
        };
        if !lendable {
            self.missing.push(key.to_vec());
            return false;
        }
        let entry = node.shard.db(db as usize).peek(key, self.now_ms).cloned();
        self.add(db, key.to_vec(), entry);
        true
    }

    /// Empties the scratch shard (only the copied keys can be in it: every call reaches its
    /// keys first) and keeps it for the next run.
    fn recycle(mut self, node: &mut Node) {
        for (db, key, _) in &self.loaded {
            self.scratch.db(*db as usize).remove(key);
        }
        self.scratch.stats = Default::default();
        self.scratch.modified_log = None;
        node.scripting.spare = Some(self.scratch);
    }

    /// The entries that changed (or that a command signalled as modified), to store back.
    fn changes(&mut self) -> Stores {
        let modified = self.scratch.modified_log.take().unwrap_or_default();
        let mut changed = Vec::new();
        for (db, key, before) in &self.loaded {
            let after = self
                .scratch
                .db(*db as usize)
                .peek(key, self.now_ms)
                .cloned();
            let signalled = modified.iter().any(|(d, k)| d == db && k == key);
            if signalled || !crate::coord::same_data(before.as_ref(), after.as_ref()) {
                changed.push((*db, key.clone(), after));
            }
        }
        changed
    }
}

/// How a run ended.
enum Outcome {
    Done(Reply),
    /// It reached keys outside its copies: nothing of it counts. The keys it touched, those
    /// it had and those it could not have, for the next attempt to take all at once.
    Abort(Vec<Vec<u8>>),
}

/// Runs a scripting row for `conn`.
pub(crate) fn start(
    node: &mut Node,
    conn: &mut Conn,
    cmd: ScriptCmd,
    argv: Argv,
    cx: &mut Cx,
) -> Flow {
    let reply = match cmd {
        ScriptCmd::Help => help_reply(),
        ScriptCmd::Load => {
            let body = argv[2].to_vec();
            let sha = sha1_hex(&body);
            if let Err(text) =
                shebang_may_write(&body).and_then(|_| with_vm(node, |vm| vm.compile(&sha, &body)))
            {
                conn.encode(&Reply::Error(CmdError::Relayed(text)));
                return Flow::Next;
            }
            node.scripting.remember(sha.clone(), body.clone());
            let op = NodeOp::ScriptLoad {
                sha: sha.clone(),
                body,
            };
            return answer_when_acked(node, conn, op, Reply::Bulk(sha.into_bytes()), cx);
        }
        ScriptCmd::Exists => script_exists(node, &argv),
        ScriptCmd::Flush => match flush_mode_error(&argv) {
            Some(err) => err,
            None => {
                node.scripting.flush();
                return answer_when_acked(node, conn, NodeOp::ScriptFlush, Reply::OK, cx);
            }
        },
        ScriptCmd::Eval
        | ScriptCmd::EvalSha
        | ScriptCmd::EvalRo
        | ScriptCmd::EvalShaRo
        | ScriptCmd::FCall
        | ScriptCmd::FCallRo => match job_of(node, conn, cmd, &argv, cx) {
            Ok(job) => return run_job(node, conn, job, cx),
            Err(reply) => reply,
        },
        ScriptCmd::Kill | ScriptCmd::Function(_) => match admin(node, cmd, &argv) {
            (reply, Some(op)) => return answer_when_acked(node, conn, op, reply, cx),
            (reply, None) => reply,
        },
    };
    conn.encode(&reply);
    Flow::Next
}

/// No script is ever running while a command is answered: a script runs to its end in the
/// step that started it.
const NOT_BUSY: &str = "NOTBUSY No scripts in execution right now.";

/// SCRIPT KILL and the FUNCTION rows: the reply, and the new libraries to send every other
/// thread when they changed.
fn admin(node: &mut Node, cmd: ScriptCmd, argv: &Argv) -> (Reply, Option<NodeOp>) {
    let ScriptCmd::Function(sub) = cmd else {
        return (relayed(NOT_BUSY), None);
    };
    let changed = match sub {
        FunctionCmd::Kill => return (relayed(NOT_BUSY), None),
        FunctionCmd::Help => {
            let lines = function::FUNCTION_HELP.iter();
            let lines = lines.map(|line| Reply::Simple((*line).into()));
            return (Reply::Array(lines.collect()), None);
        }
        FunctionCmd::Stats => return (function::stats_reply(&node.scripting.libraries), None),
        FunctionCmd::List => {
            let args: Vec<&[u8]> = argv.iter().skip(2).collect();
            let reply = match function::parse_list(&args) {
                Ok(list) => function::list_reply(&node.scripting.libraries, &list),
                Err(text) => relayed(text),
            };
            return (reply, None);
        }
        FunctionCmd::Dump => {
            let codes: Vec<&[u8]> = node
                .scripting
                .libraries
                .iter()
                .map(|l| &l.code[..])
                .collect();
            let payload = crate::rdb::functions_payload(&codes);
            return (Reply::Bulk(payload), None);
        }
        FunctionCmd::Load => function_load(node, argv),
        FunctionCmd::Delete => {
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            let mut libs = node.scripting.libraries.clone();
            match libs.remove(&name) {
                Some(_) => Ok((Reply::OK, libs)),
                None => Err(relayed("ERR Library not found")),
            }
        }
        FunctionCmd::Flush => function_flush(argv),
        FunctionCmd::Restore => function_restore(node, argv),
    };
    match changed {
        Ok((reply, libraries)) => {
            node.scripting.libraries = libraries.clone();
            (reply, Some(NodeOp::FunctionsSet { libraries }))
        }
        Err(reply) => (reply, None),
    }
}

/// A change's reply and the libraries after it.
type Changed = Result<(Reply, function::Libraries), Reply>;

fn function_flush(argv: &Argv) -> Changed {
    if argv.len() > 3 {
        return Err(Reply::Error(CmdError::SubcommandSyntax {
            sub: argv[1].to_vec(),
            container: "FUNCTION",
        }));
    }
    let mode_ok = argv.len() == 2
        || crate::cmd::args::eq_word(&argv[2], "SYNC")
        || crate::cmd::args::eq_word(&argv[2], "ASYNC");
    if !mode_ok {
        return Err(relayed(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    Ok((Reply::OK, function::Libraries::default()))
}

/// A library from its code, checked as FUNCTION LOAD checks it against `libs` (REPLACE lets
/// a library of the same name go). Its functions run in this thread's state, so the code
/// is loaded once here to learn them.
fn new_library(
    node: &mut Node,
    libs: &function::Libraries,
    code: &[u8],
    replace: bool,
) -> Result<function::Library, Reply> {
    let name = function::library_name(code).map_err(relayed)?;
    if libs.get(&name).is_some() && !replace {
        return Err(relayed(format!("ERR Library '{name}' already exists")));
    }
    let at = code
        .iter()
        .position(|&b| b == b'\n')
        .expect("the shebang ends");
    let fvm = node.scripting.function_vm();
    let registered = library::load(&fvm.vm, &fvm.env, &code[at..]).map_err(relayed)?;
    if registered.is_empty() {
        return Err(relayed("ERR No functions registered"));
    }
    for r in &registered {
        if libs
            .owner_of(&r.meta.name)
            .is_some_and(|owner| owner != name)
        {
            return Err(relayed(format!(
                "ERR Function {} already exists",
                r.meta.name
            )));
        }
    }
    node.scripting.loads += 1;
    Ok(function::Library {
        name,
        code: code.to_vec(),
        functions: registered.into_iter().map(|r| r.meta).collect(),
        id: u64::from(node.thread.0) << 48 | node.scripting.loads,
    })
}

fn function_load(node: &mut Node, argv: &Argv) -> Changed {
    let code = &argv[argv.len() - 1];
    let mut replace = false;
    for option in argv.iter().skip(2).take(argv.len() - 3) {
        if !crate::cmd::args::eq_word(option, "REPLACE") {
            let text = String::from_utf8_lossy(option);
            return Err(relayed(format!("ERR Unknown option given: {text}")));
        }
        replace = true;
    }
    let mut libs = node.scripting.libraries.clone();
    let lib = new_library(node, &libs, code, replace)?;
    let name = lib.name.clone();
    libs.remove(&name);
    libs.insert(lib);
    Ok((Reply::Bulk(name.into_bytes()), libs))
}

fn function_restore(node: &mut Node, argv: &Argv) -> Changed {
    if argv.len() > 4 {
        return Err(Reply::Error(CmdError::SubcommandSyntax {
            sub: argv[1].to_vec(),
            container: "FUNCTION",
        }));
    }
    let policy =
        match argv.get(3) {
            None => function::RestorePolicy::Append,
            Some(p) if crate::cmd::args::eq_word(p, "FLUSH") => function::RestorePolicy::Flush,
            Some(p) if crate::cmd::args::eq_word(p, "APPEND") => function::RestorePolicy::Append,
            Some(p) if crate::cmd::args::eq_word(p, "REPLACE") => function::RestorePolicy::Replace,
            Some(_) => return Err(relayed(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = crate::rdb::parse_functions_payload(&argv[2])
        .map_err(|e| relayed(format!("ERR {}", e.text())))?;
    // The payload's libraries are first checked among themselves, as Redis loads them into
    // an empty set before joining it to the current one.
    let mut incoming = function::Libraries::default();
    for code in &codes {
        let lib = new_library(node, &incoming, code, false)?;
        incoming.insert(lib);
    }
    let incoming: Vec<function::Library> = incoming.iter().cloned().collect();
    let libs = function::join(&node.scripting.libraries, incoming, policy).map_err(relayed)?;
    Ok((Reply::OK, libs))
}

fn help_reply() -> Reply {
    Reply::Array(
        SCRIPT_HELP
            .iter()
            .map(|line| Reply::Simple((*line).into()))
            .collect(),
    )
}

/// Adds a body to every thread's cache: here at once, elsewhere by a message that travels
/// before any later message of this thread (per-pair FIFO). With `seq`, the hops count as the
/// request's: the caller waits for every thread's acknowledgement (SCRIPT LOAD); without, nobody
/// waits (a first EVAL, whose run does not need the other threads).
fn broadcast(node: &mut Node, conn: &Conn, op: NodeOp, seq: Option<u64>, cx: &mut Cx) -> usize {
    let mut sent = 0;
    for t in 0..node.threads {
        let to = ThreadId(t);
        if to == node.thread {
            continue;
        }
        let seq = seq.unwrap_or(crate::coord::SEQ_NO_REPLY);
        node.send_hop(conn, to, seq, None, vec![HopOp::Node(op.clone())], cx);
        sent += 1;
    }
    sent
}

fn broadcast_load(node: &mut Node, conn: &Conn, sha: &str, body: &[u8], cx: &mut Cx) {
    node.scripting.remember(sha.to_string(), body.to_vec());
    let op = NodeOp::ScriptLoad {
        sha: sha.to_string(),
        body: body.to_vec(),
    };
    broadcast(node, conn, op, None, cx);
}

/// Answers `reply` once every other thread acknowledged `op` (SCRIPT LOAD, SCRIPT FLUSH): a
/// client told the script is loaded finds it through any connection.
fn answer_when_acked(
    node: &mut Node,
    conn: &mut Conn,
    op: NodeOp,
    reply: Reply,
    cx: &mut Cx,
) -> Flow {
    let seq = node.alloc_seq();
    let outstanding = broadcast(node, conn, op, Some(seq), cx);
    let pending = Pending {
        seq,
        outstanding,
        plan: Plan::Acked(reply),
        tx: crate::hop::TxPhase::None,
    };
    crate::coord::park_or_finish(node, conn, pending, cx)
}

fn script_load(node: &mut Node, conn: &mut Conn, argv: &Argv, cx: &mut Cx) -> Reply {
    let body = argv[2].to_vec();
    let sha = sha1_hex(&body);
    if let Err(text) =
        shebang_may_write(&body).and_then(|_| with_vm(node, |vm| vm.compile(&sha, &body)))
    {
        return Reply::Error(CmdError::Relayed(text));
    }
    broadcast_load(node, conn, &sha, &body, cx);
    Reply::Bulk(sha.into_bytes())
}

/// SCRIPT FLUSH's argument check: Redis's error for anything but SYNC or ASYNC.
fn flush_mode_error(argv: &Argv) -> Option<Reply> {
    match argv.len() {
        2 => None,
        3 if crate::cmd::args::eq_word(&argv[2], "SYNC")
            || crate::cmd::args::eq_word(&argv[2], "ASYNC") =>
        {
            None
        }
        _ => Some(Reply::Error(CmdError::Relayed(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option".into(),
        ))),
    }
}

/// SCRIPT EXISTS: 1 or 0 per SHA1, in order (case does not matter, as in Redis).
fn script_exists(node: &Node, argv: &Argv) -> Reply {
    Reply::Array(
        argv.iter()
            .skip(2)
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(node.scripting.bodies.contains_key(&sha) as i64)
            })
            .collect(),
    )
}

/// SCRIPT FLUSH inside EXEC: the body holds every thread, so the others flush by message.
fn script_flush(node: &mut Node, conn: &mut Conn, argv: &Argv, cx: &mut Cx) -> Reply {
    if let Some(err) = flush_mode_error(argv) {
        return err;
    }
    node.scripting.flush();
    broadcast(node, conn, NodeOp::ScriptFlush, None, cx);
    Reply::OK
}

/// Runs `f` on this thread's Lua state, creating it on first use.
fn with_vm<R>(node: &mut Node, f: impl FnOnce(&mut Vm) -> R) -> R {
    if node.scripting.vm.is_none() {
        node.scripting.vm = Some(node.scripting.open_vm());
    }
    f(node.scripting.vm.as_mut().expect("opened above"))
}

/// EVAL*'s arguments as a job, or the reply that refuses them.
pub(crate) fn job_of(
    node: &mut Node,
    conn: &mut Conn,
    cmd: ScriptCmd,
    argv: &Argv,
    cx: &mut Cx,
) -> Result<ScriptJob, Reply> {
    if cmd.calls_function() {
        return fcall_job(node, conn, cmd, argv);
    }
    let numkeys =
        crate::cmd::args::parse_i64(&argv[2]).map_err(|_| Reply::Error(CmdError::NotInteger))?;
    if numkeys > (argv.len() - 3) as i64 {
        return Err(Reply::Error(CmdError::Relayed(
            "ERR Number of keys can't be greater than number of args".into(),
        )));
    }
    if numkeys < 0 {
        return Err(Reply::Error(CmdError::Relayed(
            "ERR Number of keys can't be negative".into(),
        )));
    }
    let numkeys = numkeys as usize;
    let (sha, body) = if cmd.by_sha() {
        let sha = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
        match node.scripting.bodies.get(&sha) {
            Some(body) if argv[1].len() == 40 => (sha, body.clone()),
            _ => {
                return Err(Reply::Error(CmdError::Relayed(
                    "NOSCRIPT No matching script. Please use EVAL.".into(),
                )))
            }
        }
    } else {
        let body = argv[1].to_vec();
        let sha = sha1_hex(&body);
        if !node.scripting.bodies.contains_key(&sha) {
            if let Err(text) =
                shebang_may_write(&body).and_then(|_| with_vm(node, |vm| vm.compile(&sha, &body)))
            {
                return Err(Reply::Error(CmdError::Relayed(text)));
            }
            broadcast_load(node, conn, &sha, &body, cx);
        }
        (sha, body)
    };
    let may_write = shebang_may_write(&body).map_err(|e| Reply::Error(CmdError::Relayed(e)))?;
    if cmd.read_only() && may_write == Some(true) {
        return Err(Reply::Error(CmdError::Relayed(
            "ERR Can not execute a script with write flag using *_ro command.".into(),
        )));
    }
    Ok(ScriptJob {
        sha,
        body,
        keys: argv
            .iter()
            .skip(3)
            .take(numkeys)
            .map(<[u8]>::to_vec)
            .collect(),
        args: argv.iter().skip(3 + numkeys).map(<[u8]>::to_vec).collect(),
        read_only: cmd.read_only() || may_write == Some(false),
        function: None,
        db: conn.db,
        reached: Vec::new(),
        attempts: 0,
        in_exec: false,
        restart: false,
    })
}

fn relayed(text: impl Into<String>) -> Reply {
    Reply::Error(CmdError::Relayed(text.into()))
}

/// FCALL's and FCALL_RO's arguments as a job, checked in Redis's order.
fn fcall_job(node: &Node, conn: &Conn, cmd: ScriptCmd, argv: &Argv) -> Result<ScriptJob, Reply> {
    let Some(meta) = node.scripting.libraries.function(&argv[1]) else {
        return Err(relayed("ERR Function not found"));
    };
    let numkeys = crate::cmd::args::parse_i64(&argv[2])
        .map_err(|_| relayed("ERR Bad number of keys provided"))?;
    if numkeys > (argv.len() - 3) as i64 {
        return Err(relayed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(relayed("ERR Number of keys can't be negative"));
    }
    if cmd.read_only() && meta.may_write() {
        return Err(relayed(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let numkeys = numkeys as usize;
    Ok(ScriptJob {
        sha: meta.name.clone(),
        body: Vec::new(),
        function: Some(meta.name.to_lowercase()),
        keys: argv
            .iter()
            .skip(3)
            .take(numkeys)
            .map(<[u8]>::to_vec)
            .collect(),
        args: argv.iter().skip(3 + numkeys).map(<[u8]>::to_vec).collect(),
        read_only: cmd.read_only() || !meta.may_write(),
        db: conn.db,
        reached: Vec::new(),
        attempts: 0,
        in_exec: false,
        restart: false,
    })
}

/// Runs a script: at once when its declared keys are this shard's, else (or when the run
/// reached further) as a transaction over the keys it needs.
fn run_job(node: &mut Node, conn: &mut Conn, mut job: ScriptJob, cx: &mut Cx) -> Flow {
    let local = job
        .keys
        .iter()
        .all(|k| shard_of(k, node.threads) == node.thread);
    let owner = job.keys.first().map(|k| shard_of(k, node.threads));
    let one_other_shard = owner
        .filter(|&o| o != node.thread && job.keys.iter().all(|k| shard_of(k, node.threads) == o));
    if let Some(owner) = one_other_shard {
        // Every declared key on one other shard: the script runs there, in one hop.
        let seq = node.alloc_seq();
        let op = HopOp::Script { job: Box::new(job) };
        let sent = node.send_hop(conn, owner, seq, None, vec![op], cx);
        assert!(sent.is_none(), "a hop to another thread runs there");
        let pending = Pending {
            seq,
            outstanding: 1,
            plan: Plan::ScriptHop { outcome: None },
            tx: crate::hop::TxPhase::None,
        };
        return crate::coord::park_or_finish(node, conn, pending, cx);
    }
    if local {
        let now_ms = node.shard.observe_time_ms(cx.wall_ms());
        let mut copies = Copies::new(node, now_ms, Source::Local);
        match run_on(node, Some(conn), &job, &mut copies, cx) {
            Outcome::Done(reply) => {
                store_here(node, &mut copies);
                copies.recycle(node);
                conn.encode(&reply);
                return Flow::Next;
            }
            Outcome::Abort(touched) => {
                cx.mark("script.fast_path_aborted");
                add_reached(&mut job, touched);
                copies.recycle(node);
            }
        }
    }
    start_transaction(node, conn, job, cx)
}

/// A script's hop on the shard owning its declared keys: its reply, with its changes stored
/// here in the same step, or a retry at the coordinator when it reached beyond this shard.
pub(crate) fn run_hop(
    node: &mut Node,
    mut job: ScriptJob,
    now_ms: u64,
    cx: &mut Cx,
) -> crate::hop::HopResult {
    let now_ms = node.shard.observe_time_ms(now_ms);
    let source = if job.in_exec {
        Source::LocalHeld
    } else {
        Source::Local
    };
    let mut copies = Copies::new(node, now_ms, source);
    match run_on(node, None, &job, &mut copies, cx) {
        Outcome::Done(reply) => {
            store_here(node, &mut copies);
            copies.recycle(node);
            crate::hop::HopResult::Reply(reply)
        }
        Outcome::Abort(touched) => {
            cx.mark("script.hop_aborted");
            add_reached(&mut job, touched);
            copies.recycle(node);
            crate::hop::HopResult::ScriptRetry(Box::new(job))
        }
    }
}

/// Adds the keys an aborted attempt touched to those the next attempt takes.
fn add_reached(job: &mut ScriptJob, touched: Vec<Vec<u8>>) {
    for key in touched {
        if !job.keys.contains(&key) && !job.reached.contains(&key) {
            job.reached.push(key);
        }
    }
}

/// The fast path's changes, stored on this shard in the same step the script ran.
fn store_here(node: &mut Node, copies: &mut Copies) {
    node.shard.stats.keyspace_hits += copies.scratch.stats.keyspace_hits;
    node.shard.stats.keyspace_misses += copies.scratch.stats.keyspace_misses;
    let mut stored = Vec::new();
    for (db, key, entry) in copies.changes() {
        if node.shard.journal.is_some() {
            stored.push((db, key.clone()));
        }
        let table = node.shard.db(db as usize);
        match entry {
            Some(entry) => {
                table.insert(entry, copies.now_ms);
            }
            None => {
                table.remove(&key);
            }
        }
        node.shard.modified(db, &key);
    }
    crate::node::journal::after_store(&mut node.shard, &stored);
}

/// The script as a gather transaction over its declared and reached keys, exclusive intents
/// (shared for read-only scripts).
fn start_transaction(node: &mut Node, conn: &mut Conn, job: ScriptJob, cx: &mut Cx) -> Flow {
    let seq = node.alloc_seq();
    let mut pending = transaction(node, job, seq);
    crate::coord::schedule(node, conn, &mut pending, cx);
    crate::coord::park_or_finish(node, conn, pending, cx)
}

pub(crate) fn transaction(node: &Node, job: ScriptJob, seq: u64) -> Pending {
    let mode = if job.read_only {
        LockMode::Shared
    } else {
        LockMode::Exclusive
    };
    let mut keys: Vec<(u16, Vec<u8>)> = Vec::new();
    for key in job.keys.iter().chain(&job.reached) {
        let k = (job.db as u16, key.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut parts: Vec<(ThreadId, Vec<usize>)> = Vec::new();
    let mut locks: Vec<(ThreadId, LockSet)> = Vec::new();
    for (n, (db, key)) in keys.iter().enumerate() {
        let owner = shard_of(key, node.threads);
        match parts.iter().position(|p| p.0 == owner) {
            Some(at) => parts[at].1.push(n),
            None => {
                parts.push((owner, vec![n]));
                locks.push((owner, LockSet::Keys(Vec::new())));
            }
        }
        let at = locks.iter().position(|l| l.0 == owner).expect("lock entry");
        let LockSet::Keys(list) = &mut locks[at].1 else {
            unreachable!("key locks")
        };
        list.push((*db, key.clone(), mode));
    }
    if keys.is_empty() {
        // A keyless script that still needs a transaction (it reached keys before): the
        // coordinator's shard, locked for nothing, carries it.
        parts.push((node.thread, Vec::new()));
        locks.push((node.thread, LockSet::Keys(Vec::new())));
    }
    let state = GatherState {
        spec: eval_spec(node),
        argv: Argv::new(),
        fetched: vec![None; keys.len()],
        keys,
        parts,
        reply: None,
        blocking: None,
        patterns: crate::hop::PatternFetch::Done,
        script: Some(Box::new(job)),
    };
    crate::coord::pending_tx_with_seq(seq, Plan::Gather(Box::new(state)), locks)
}

fn eval_spec(node: &Node) -> &'static crate::cmd::CommandSpec {
    node.table.lookup(b"eval").expect("EVAL is in the table")
}

/// The script's turn in its transaction, its copies fetched: its reply and the changes to
/// store, or the keys it reached beyond them (the transaction then concludes unchanged and
/// the script starts again with those keys).
pub(crate) fn run_fetched(
    node: &mut Node,
    conn: &mut Conn,
    state: &mut GatherState,
    now_ms: u64,
    cx: &mut Cx,
) -> Result<(Reply, Stores), Box<ScriptJob>> {
    let job = state.script.as_mut().expect("a script gather");
    let mut copies = Copies::new(node, now_ms, Source::Fetched);
    for ((db, key), entry) in state.keys.iter().zip(std::mem::take(&mut state.fetched)) {
        copies.add(*db, key.clone(), entry.flatten());
    }
    let job_now = (**job).clone();
    match run_on(node, Some(conn), &job_now, &mut copies, cx) {
        Outcome::Done(reply) => {
            node.shard.stats.keyspace_hits += copies.scratch.stats.keyspace_hits;
            node.shard.stats.keyspace_misses += copies.scratch.stats.keyspace_misses;
            let changes = copies.changes();
            copies.recycle(node);
            Ok((reply, changes))
        }
        Outcome::Abort(missing) => {
            copies.recycle(node);
            cx.mark("script.transaction_aborted");
            let mut job = job_now;
            add_reached(&mut job, missing);
            job.attempts += 1;
            Err(Box::new(job))
        }
    }
}

/// Starts the next attempt of a script whose transaction concluded unchanged, replacing the
/// pending plan; the reply when it is refused outright.
pub(crate) fn restart(node: &mut Node, job: ScriptJob, seq: u64) -> Result<Pending, Reply> {
    if job.attempts >= ATTEMPTS_MAX {
        return Err(Reply::Error(CmdError::Relayed(format!(
            "ERR script kept reaching new keys after {ATTEMPTS_MAX} attempts script: {}",
            job.sha
        ))));
    }
    Ok(transaction(node, job, seq))
}

/// Inside EXEC, whose intents cover every key of the node: the script runs on this shard's
/// keys. When it reached keys of one other shard instead (it declared none there), that
/// shard is the answer (`Err`): the body runs it there (nothing it did here was kept); keys of
/// several other shards answer an error.
pub(crate) fn run_in_exec(
    node: &mut Node,
    conn: &mut Conn,
    cmd: ScriptCmd,
    argv: &Argv,
    cx: &mut Cx,
) -> Result<Reply, ThreadId> {
    let job = match cmd {
        ScriptCmd::Eval
        | ScriptCmd::EvalSha
        | ScriptCmd::EvalRo
        | ScriptCmd::EvalShaRo
        | ScriptCmd::FCall
        | ScriptCmd::FCallRo => match job_of(node, conn, cmd, argv, cx) {
            Ok(job) => job,
            Err(reply) => return Ok(reply),
        },
        ScriptCmd::Kill | ScriptCmd::Function(_) => {
            let (reply, op) = admin(node, cmd, argv);
            if let Some(op) = op {
                // The body holds every thread: the others take the change by message.
                broadcast(node, conn, op, None, cx);
            }
            return Ok(reply);
        }
        ScriptCmd::Help => return Ok(help_reply()),
        ScriptCmd::Load => return Ok(script_load(node, conn, argv, cx)),
        ScriptCmd::Flush => return Ok(script_flush(node, conn, argv, cx)),
        ScriptCmd::Exists => return Ok(script_exists(node, argv)),
    };
    let now_ms = node.shard.observe_time_ms(cx.wall_ms());
    let mut copies = Copies::new(node, now_ms, Source::LocalHeld);
    match run_on(node, Some(conn), &job, &mut copies, cx) {
        Outcome::Done(reply) => {
            store_here(node, &mut copies);
            copies.recycle(node);
            Ok(reply)
        }
        Outcome::Abort(touched) => {
            copies.recycle(node);
            let owner = touched.first().map(|k| shard_of(k, node.threads));
            if let Some(owner) = owner.filter(|&o| {
                o != node.thread && touched.iter().all(|k| shard_of(k, node.threads) == o)
            }) {
                return Err(owner);
            }
            Ok(Reply::Error(CmdError::Relayed(format!(
                "ERR a script inside MULTI reached a key of another thread script: {}",
                job.sha
            ))))
        }
    }
}

/// What a `redis.call` made of a failure: raised (call) or handed back (pcall).
fn failure(lua: &mlua::Lua, text: &str, raise: bool) -> mlua::Result<Value> {
    if raise {
        return Err(mlua::Error::external(CallbackError::Reply(text.into())));
    }
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

/// The world a run's `redis.call` reaches.
struct CallCx<'a> {
    node: &'a mut Node,
    /// The calling connection; None when the script runs in a hop on the owning shard, where
    /// a connection command makes it retry at the coordinator.
    conn: Option<&'a mut Conn>,
    copies: &'a mut Copies,
    cx: &'a mut Cx,
    read_only: bool,
    db: usize,
    aborted: bool,
}

impl CallCx<'_> {
    fn call(&mut self, lua: &mlua::Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
        if self.aborted {
            return Err(mlua::Error::external(CallbackError::Abort));
        }
        if args.is_empty() {
            return failure(
                lua,
                "ERR Please specify at least one argument for this redis lib call",
                raise,
            );
        }
        let Some(args) = vm::call_args(&args) else {
            return failure(
                lua,
                "ERR Lua redis lib command arguments must be strings or integers",
                raise,
            );
        };
        let argv = Argv::from_slices(&args);
        let Some(mut spec) = self.node.table.lookup(&argv[0]) else {
            return failure(lua, "ERR Unknown Redis command called from script", raise);
        };
        if matches!(spec.exec, Exec::Container) && argv.len() >= 2 {
            match crate::cmd::CommandTable::subcommand(spec, &argv[1]) {
                Some(sub) => spec = sub,
                None => return failure(lua, "ERR Unknown Redis command called from script", raise),
            }
        }
        if !spec.arity_ok(argv.len()) {
            return failure(
                lua,
                "ERR Wrong number of args calling Redis command from script",
                raise,
            );
        }
        if spec.has(flag::NOSCRIPT) {
            return failure(
                lua,
                "ERR This Redis command is not allowed from script",
                raise,
            );
        }
        if self.read_only && spec.has(flag::WRITE) {
            return failure(
                lua,
                "ERR Write commands are not allowed from read-only scripts.",
                raise,
            );
        }
        let reply: Reply = match spec.exec {
            Exec::Shard { run, .. } => {
                for i in spec.key_indexes(&argv) {
                    if !self.copies.reach(self.node, self.db as u16, &argv[i]) {
                        self.aborted = true;
                        return Err(mlua::Error::external(CallbackError::Abort));
                    }
                }
                let now_ms = self.copies.now_ms;
                let mut ecx = ExecCx::new(&mut self.copies.scratch, self.db, now_ms, self.cx);
                run(&mut ecx, &argv).into()
            }
            // Connection commands that read and answer, the same for any client: what the
            // script's own client in Redis would get.
            Exec::Conn(
                cmd @ (ConnCmd::Ping
                | ConnCmd::Echo
                | ConnCmd::Time
                | ConnCmd::LastSave
                | ConnCmd::ConfigGet
                | ConnCmd::CommandCount
                | ConnCmd::CommandInfo
                | ConnCmd::CommandDocs
                | ConnCmd::CommandList
                | ConnCmd::CommandGetKeys
                | ConnCmd::CommandGetKeysAndFlags),
            ) => match self.conn.as_deref_mut() {
                Some(conn) => self.node.conn_cmd_reply(conn, cmd, &argv, self.cx),
                None => {
                    self.aborted = true;
                    return Err(mlua::Error::external(CallbackError::Abort));
                }
            },
            _ => {
                return failure(
                    lua,
                    "ERR This Redis command is not allowed from script",
                    raise,
                )
            }
        };
        if let Reply::Error(err) = &reply {
            return failure(lua, &err.text(), raise);
        }
        let resp = lua
            .app_data_ref::<api::RunFlags>()
            .map_or(LuaResp::Two, |f| f.resp.get());
        vm::reply_to_lua(lua, &reply, resp)
    }
}

/// Where a raised error points: the innermost frame of the user's script.
fn error_location(lua: &mlua::Lua) -> Option<(String, usize)> {
    for level in 1..64 {
        let found = lua.inspect_stack(level, |d| {
            let source = d.source().source.map(|s| s.into_owned());
            (source, d.current_line())
        })?;
        if let (Some(source), line) = found {
            if source == vm::USER_SCRIPT_CHUNK || source == library::USER_FUNCTION_CHUNK {
                return Some((source, line.unwrap_or(0)));
            }
        }
    }
    None
}

/// Runs `job` on `copies`: the client's reply, or the keys it reached beyond them.
fn run_on(
    node: &mut Node,
    conn: Option<&mut Conn>,
    job: &ScriptJob,
    copies: &mut Copies,
    cx: &mut Cx,
) -> Outcome {
    if let Some(name) = &job.function {
        let callback = node.scripting.function_vm().callbacks.get(name).cloned();
        let Some(callback) = callback else {
            // Deleted since the caller found it (a change from another thread came between).
            return Outcome::Done(relayed("ERR Function not found"));
        };
        let mut fvm = node.scripting.fn_vm.take().expect("caught up above");
        let outcome = run_in_vm(&mut fvm.vm, node, conn, job, Ok(callback), copies, cx);
        node.scripting.fn_vm = Some(fvm);
        return outcome;
    }
    let mut vm = match node.scripting.vm.take() {
        Some(vm) => vm,
        None => node.scripting.open_vm(),
    };
    let outcome = match vm.compile(&job.sha, &job.body) {
        Ok(body) => run_in_vm(&mut vm, node, conn, job, Err(body), copies, cx),
        Err(text) => Outcome::Done(relayed(text)),
    };
    node.scripting.vm = Some(vm);
    outcome
}

/// Runs a compiled script body (`Err`, reading KEYS and ARGV) or a function (`Ok`, called
/// with the keys and arguments as its two tables).
fn run_in_vm(
    vm: &mut Vm,
    node: &mut Node,
    conn: Option<&mut Conn>,
    job: &ScriptJob,
    callable: Result<mlua::Function, mlua::Function>,
    copies: &mut Copies,
    cx: &mut Cx,
) -> Outcome {
    let lua = vm.lua.clone();
    if let Some(flags) = lua.app_data_ref::<api::RunFlags>() {
        flags.resp.set(LuaResp::Two);
    }
    // A fresh table per run: a script may keep a reference to the last one (Redis too
    // creates them anew).
    let set_list = |name: &str, items: &[Vec<u8>]| -> mlua::Result<()> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(item)?)?;
        }
        vm.globals.raw_set(name, t)
    };
    let function = match callable {
        Err(body) => {
            set_list("KEYS", &job.keys).expect("KEYS set");
            set_list("ARGV", &job.args).expect("ARGV set");
            body
        }
        Ok(callback) => {
            let table = |items: &[Vec<u8>]| -> mlua::Result<mlua::Table> {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, item) in items.iter().enumerate() {
                    t.raw_set(i + 1, lua.create_string(item)?)?;
                }
                Ok(t)
            };
            let args = (
                table(&job.keys).expect("keys"),
                table(&job.args).expect("args"),
            );
            callback.bind(args).expect("bind the arguments")
        }
    };
    let call_cx = RefCell::new(CallCx {
        node,
        conn,
        copies,
        cx,
        read_only: job.read_only,
        db: job.db,
        aborted: false,
    });
    let raised: RefCell<Option<Raised>> = RefCell::new(None);
    let result = lua.scope(|scope| {
        let call = scope
            .create_function(|lua, args: MultiValue| call_cx.borrow_mut().call(lua, args, true))?;
        let pcall = scope
            .create_function(|lua, args: MultiValue| call_cx.borrow_mut().call(lua, args, false))?;
        vm.redis.raw_set("call", call)?;
        vm.redis.raw_set("pcall", pcall)?;
        let handler = scope.create_function(|lua, err: Value| {
            let kind = vm::raised_kind(&err);
            *raised.borrow_mut() = Some((kind, error_location(lua)));
            Ok(err)
        })?;
        let (ok, value): (bool, Value) = vm.xpcall.call((function.clone(), handler))?;
        if ok {
            // Booleans answer as the script's protocol has them (`redis.setresp`), as in Redis.
            let script_resp3 = lua
                .app_data_ref::<api::RunFlags>()
                .is_some_and(|f| f.resp.get() == LuaResp::Three);
            return Ok(Ok(vm::lua_to_reply(&value, script_resp3, 0)));
        }
        Ok(Err(value))
    });
    let aborted = call_cx.borrow().aborted;
    let missing = {
        let mut call_cx = call_cx.borrow_mut();
        let copies = &mut *call_cx.copies;
        let mut touched: Vec<Vec<u8>> = copies.loaded.iter().map(|(_, k, _)| k.clone()).collect();
        touched.append(&mut copies.missing);
        touched
    };
    // A script that swallowed an abort (its own pcall loop) still counts as aborted.
    if aborted {
        return Outcome::Abort(missing);
    }
    // Lua calls no handler for a memory error: the raised value is its bare message.
    let unhandled = |text: &str| {
        // What the script built is garbage now: collected at once, so a state that ran out
        // of memory serves the next script.
        let _ = lua.gc_collect();
        let name = match &job.function {
            Some(_) => job.sha.clone(),
            None => format!("f_{}", job.sha),
        };
        let text = format!("ERR Error running script {name}, {text}");
        Outcome::Done(Reply::Error(CmdError::Relayed(vm::sanitize(&text))))
    };
    match result {
        Ok(Ok(reply)) => Outcome::Done(reply),
        Ok(Err(value)) if raised.borrow().is_none() => match value {
            Value::String(s) => unhandled(&s.to_string_lossy()),
            _ => unhandled("execution failure"),
        },
        Err(mlua::Error::MemoryError(text)) => unhandled(&text),
        Ok(Err(_)) => {
            let (kind, location) = raised.into_inner().expect("checked above");
            match kind {
                RaisedKind::Abort => Outcome::Abort(missing),
                RaisedKind::Message(text) => {
                    let at = match location {
                        Some((source, line)) => format!(", on {source}:{line}."),
                        None => ".".into(),
                    };
                    Outcome::Done(Reply::Error(CmdError::Relayed(vm::sanitize(&format!(
                        "{text} script: {}{at}",
                        job.sha
                    )))))
                }
            }
        }
        Err(err) => Outcome::Done(Reply::Error(CmdError::Relayed(vm::sanitize(&format!(
            "ERR {err} script: {}",
            job.sha
        ))))),
    }
}

#[cfg(test)]
mod tests;
