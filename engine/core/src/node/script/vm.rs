//! The Lua 5.1 state a thread runs scripts in, sandboxed as Redis 7.0 sandboxes its own: base
//! (without `loadfile`, `dofile`, `print`, `getfenv`, `setfenv`, `module`, `require`,
//! `newproxy`), `table`, `string`, `math`, `coroutine`, `bit`, `cjson`, `cmsgpack`, `struct`;
//! read-only globals and library tables; Redis's `pcall`, which hands back an error table's
//! `err` text.

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic};

use crate::reply::Reply;

/// The most memory one Lua state may take (a thread has two: EVAL's and functions'). Redis sets
/// none; past this an allocation fails as Lua's do, and the script gets Lua's "not enough
/// memory" (`Error running script ..., not enough memory`, Redis's text for errors no handler
/// saw), the state stays usable once the script's garbage is collected.
pub const LUA_MEMORY_MAX_BYTES: usize = 256 << 20;

/// The chunk name Redis gives EVAL bodies: error positions read `user_script:1:`.
pub const USER_SCRIPT_CHUNK: &str = "@user_script";

/// Builds the sandbox from the real globals: library tables behind read-only proxies, a
/// strict proxy as the scripts' environment (`_G` names it), and guarded `setmetatable`/`rawset`.
const SANDBOX_SETUP: &str = r#"
local G, fix_error = ...
local rawset0, setmetatable0, error0, tostring0, pcall0 = rawset, setmetatable, error, tostring, pcall
local protected = setmetatable0({}, {__mode = 'k'})
local function readonly() error0("Attempt to modify a readonly table", 2) end
local function protect(real, strict)
  local proxy = {}
  local index = real
  if strict then
    index = function(_, k)
      local v = real[k]
      if v == nil then
        error0("Script attempted to access nonexistent global variable '" .. tostring0(k) .. "'", 2)
      end
      return v
    end
  end
  setmetatable0(proxy, {__index = index, __newindex = readonly, __metatable = {}})
  protected[proxy] = true
  return proxy
end
for _, name in ipairs({'loadfile', 'dofile', 'print', 'getfenv', 'setfenv', 'module', 'require', 'newproxy'}) do
  G[name] = nil
end
local function finish(ok, ...)
  if ok then return true, ... end
  return false, fix_error((...))
end
G.pcall = function(f, ...) return finish(pcall0(f, ...)) end
-- No binary chunks: a leading space makes the loader read one as text, which then fails to
-- parse as Redis's text-only loader fails ("unexpected symbol near 'char(27)'").
local load0, type0 = load, type
local function load_text(f, name)
  local first = true
  return load0(function()
    local piece = f()
    if first and type0(piece) == 'string' and piece ~= '' then
      first = false
      if piece:byte(1) == 27 then return ' ' .. piece end
    end
    return piece
  end, name)
end
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'bit', 'cjson', 'cmsgpack', 'struct', 'redis'}) do
  if G[name] ~= nil then G[name] = protect(G[name], false) end
end
-- Strings' metatable is shared by every script: read-only too (Redis's CVE-2025-46818 fix).
local string_mt = getmetatable('')
string_mt.__index = G.string
string_mt.__metatable = protect(string_mt, false)
local env = protect(G, true)
G._G = env
return env, protected, load_text
"#;

/// What a script's error is, read from the value it raised.
#[derive(Debug)]
pub enum RaisedKind {
    /// The run stopped to fetch keys it reached outside its copies: not the script's error.
    Abort,
    /// The text Redis reports (before " script: <sha>, on <source>:<line>.").
    Message(String),
}

/// Errors raised by our own callbacks: `redis.call`'s failures and the abort.
#[derive(Debug, Clone)]
pub enum CallbackError {
    /// The error reply of the called command, as text (raised by `redis.call`).
    Reply(String),
    Abort,
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::Reply(text) => f.write_str(text),
            CallbackError::Abort => f.write_str("script aborted to fetch keys"),
        }
    }
}

impl std::error::Error for CallbackError {}

/// The callback error inside an mlua error, however deeply mlua wrapped it.
pub fn callback_error(err: &mlua::Error) -> Option<&CallbackError> {
    match err {
        mlua::Error::CallbackError { cause, .. } => callback_error(cause),
        mlua::Error::ExternalError(e) => e.downcast_ref::<CallbackError>(),
        mlua::Error::WithContext { cause, .. } => callback_error(cause),
        _ => None,
    }
}

/// The text of an error a library function raised (its `luaL_error` message).
pub fn error_message(err: &mlua::Error) -> String {
    match err {
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::WithContext { cause, .. } => error_message(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        mlua::Error::ExternalError(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// An error raised the way `luaL_error` raises from a C function: the calling script's
/// position in front ("user_script:1: ").
pub fn lua_error(lua: &Lua, msg: impl std::fmt::Display) -> mlua::Error {
    let at = lua
        .inspect_stack(1, |d| {
            let src = d.source();
            match (src.short_src, d.current_line(), src.what) {
                (Some(short), Some(line), "Lua" | "main") => format!("{short}:{line}: "),
                _ => String::new(),
            }
        })
        .unwrap_or_default();
    mlua::Error::RuntimeError(format!("{at}{msg}"))
}

/// Reads a raised value as Redis's error handler does: a table's `err` text, a string with
/// "ERR " in front, our callbacks' errors by kind.
pub fn raised_kind(value: &Value) -> RaisedKind {
    match value {
        Value::Error(err) => match callback_error(err) {
            Some(CallbackError::Abort) => RaisedKind::Abort,
            Some(CallbackError::Reply(text)) => RaisedKind::Message(text.clone()),
            None => RaisedKind::Message(format!("ERR {}", error_message(err))),
        },
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => RaisedKind::Message(s.to_string_lossy()),
            _ => RaisedKind::Message(String::new()),
        },
        Value::String(s) => RaisedKind::Message(format!("ERR {}", s.to_string_lossy())),
        other => RaisedKind::Message(format!("ERR {}", lua_tostring(other))),
    }
}

fn lua_tostring(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(n) => format_number(*n as f64),
        Value::Number(n) => format_number(*n),
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()),
    }
}

/// Lua 5.1's `%.14g` number formatting (`tostring`, cjson).
pub fn format_number(n: f64) -> String {
    format_g(n, 14)
}

/// C's `%.<precision>g`.
pub fn format_g(n: f64, precision: i32) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Integers with no more digits than the precision print as themselves: the common case
    // (counters, TTLs) without the general formatting.
    if n.fract() == 0.0 && n.abs() < 10f64.powi(precision) && n != 0.0 {
        return (n as i64).to_string();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent after rounding to `precision` significant digits decides the form.
    let sci = format!("{:.*e}", (precision - 1) as usize, n);
    let exp: i32 = sci
        .split_once('e')
        .expect("exponent")
        .1
        .parse()
        .expect("digits");
    if !(-4..precision).contains(&exp) {
        let s = sci;
        let (mantissa, e) = s.split_once('e').expect("exponent");
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().expect("exponent digits");
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", e.abs());
    }
    let decimals = (precision - 1 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, n);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Base functions the guards wrap.
struct Originals {
    setmetatable: Function,
    loadstring: Function,
}

/// Lua's type name (`type()`): mlua's integer is a number to scripts.
pub fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "no value",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::LightUserData(_) | Value::UserData(_) | Value::Error(_)) => "userdata",
        Some(other) => other.type_name(),
    }
}

/// `setmetatable`, `rawset`, `loadstring` and `load` guarded as Redis guards them: no change to a
/// read-only table, no binary chunk. Written in Rust, not Lua, so a script that tail-calls them
/// keeps its frame (its error names its line).
fn install_guards(
    lua: &Lua,
    globals: &Table,
    originals: Originals,
    protected: Table,
    load_text: Function,
) -> mlua::Result<()> {
    let readonly = || mlua::Error::RuntimeError("Attempt to modify a readonly table".into());
    let guard = protected.clone();
    let setmetatable = originals.setmetatable;
    globals.set(
        "setmetatable",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let Some(Value::Table(t)) = args.first() else {
                return Err(lua_error(
                    lua,
                    format!(
                        "bad argument #1 to 'setmetatable' (table expected, got {})",
                        type_name(args.first())
                    ),
                ));
            };
            if !matches!(args.get(1), Some(Value::Nil | Value::Table(_))) {
                return Err(lua_error(
                    lua,
                    "bad argument #2 to 'setmetatable' (nil or table expected)",
                ));
            }
            if guard.raw_get::<bool>(t.clone()).unwrap_or(false) {
                return Err(readonly());
            }
            setmetatable.call::<Value>((t.clone(), args[1].clone()))
        })?,
    )?;
    globals.set(
        "rawset",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let Some(Value::Table(t)) = args.first() else {
                return Err(lua_error(
                    lua,
                    format!(
                        "bad argument #1 to 'rawset' (table expected, got {})",
                        type_name(args.first())
                    ),
                ));
            };
            for arg in [2, 3] {
                if args.len() < arg {
                    return Err(lua_error(
                        lua,
                        format!("bad argument #{arg} to 'rawset' (value expected)"),
                    ));
                }
            }
            if protected.raw_get::<bool>(t.clone()).unwrap_or(false) {
                return Err(readonly());
            }
            t.raw_set(args[1].clone(), args[2].clone())?;
            Ok(t.clone())
        })?,
    )?;
    let loadstring = originals.loadstring;
    globals.set(
        "loadstring",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let source = match args.first() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Integer(n)) => format_number(*n as f64).into_bytes(),
                Some(Value::Number(n)) => format_number(*n).into_bytes(),
                other => {
                    return Err(lua_error(
                        lua,
                        format!(
                            "bad argument #1 to 'loadstring' (string expected, got {})",
                            type_name(other)
                        ),
                    ))
                }
            };
            let name = match args.get(1) {
                None | Some(Value::Nil) => Value::String(lua.create_string(&source)?),
                Some(other) => other.clone(),
            };
            let mut text = source;
            if text.first() == Some(&27) {
                text.insert(0, b' ');
            }
            loadstring.call::<MultiValue>((lua.create_string(text)?, name))
        })?,
    )?;
    globals.set(
        "load",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let Some(Value::Function(f)) = args.first() else {
                return Err(lua_error(
                    lua,
                    format!(
                        "bad argument #1 to 'load' (function expected, got {})",
                        type_name(args.first())
                    ),
                ));
            };
            let name = args.get(1).cloned().unwrap_or(Value::Nil);
            load_text.call::<MultiValue>((f.clone(), name))
        })?,
    )?;
    Ok(())
}

/// A thread's Lua state with the sandbox in place.
pub struct Vm {
    pub lua: Lua,
    /// The strict read-only environment scripts run in.
    pub env: Table,
    /// The real globals, where KEYS and ARGV are set before each run.
    pub globals: Table,
    /// The unprotected `redis` table, where each run's `call`/`pcall` are set.
    pub redis: Table,
    pub xpcall: Function,
    /// Tables scripts may not change (`rawset`, `setmetatable` refuse them).
    protected: Table,
    /// Compiled bodies by SHA1.
    pub compiled: std::collections::BTreeMap<String, Function>,
}

impl Vm {
    /// A fresh state; `rand` is the thread's rand48 state, which outlives SCRIPT FLUSH as
    /// Redis's does.
    pub fn new(rand: std::rc::Rc<std::cell::Cell<u64>>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(LUA_MEMORY_MAX_BYTES)?;
        let globals = lua.globals();
        let xpcall: Function = globals.get("xpcall")?;
        let redis = lua.create_table()?;
        super::api::install(&lua, &globals, &redis, rand)?;
        super::api::install_unpack(&lua, &globals)?;
        globals.set("redis", redis.clone())?;
        globals.set("bit", super::bit::table(&lua)?)?;
        globals.set("cjson", super::cjson::table(&lua)?)?;
        globals.set("cmsgpack", super::cmsgpack::table(&lua)?)?;
        globals.set("struct", super::structlib::table(&lua)?)?;
        let fix_error = lua.create_function(|lua, value: Value| match raised_kind(&value) {
            RaisedKind::Abort => Err(mlua::Error::external(CallbackError::Abort)),
            RaisedKind::Message(text) => match value {
                Value::Error(err) => match callback_error(&err) {
                    Some(_) => Ok(Value::String(lua.create_string(text)?)),
                    None => Ok(Value::String(lua.create_string(error_message(&err))?)),
                },
                Value::Table(_) if !text.is_empty() => Ok(Value::String(lua.create_string(text)?)),
                other => Ok(other),
            },
        })?;
        let originals = Originals {
            setmetatable: globals.get("setmetatable")?,
            loadstring: globals.get("loadstring")?,
        };
        let (env, protected, load_text): (Table, Table, Function) = lua
            .load(SANDBOX_SETUP)
            .set_name("=sandbox")
            .call((globals.clone(), fix_error))?;
        install_guards(&lua, &globals, originals, protected.clone(), load_text)?;
        Ok(Vm {
            protected,
            lua,
            env,
            globals,
            redis,
            xpcall,
            compiled: std::collections::BTreeMap::new(),
        })
    }

    /// Makes `table` read-only to `rawset` and `setmetatable` too.
    pub fn protect(&self, table: &Table) -> mlua::Result<()> {
        self.protected.raw_set(table.clone(), true)
    }

    /// Compiles `body` as Redis does (chunk `@user_script`, the sandbox as environment);
    /// the error text is Redis's "Error compiling script" reply.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<Function, String> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        // A shebang line becomes a comment: the body keeps its line numbers.
        let commented;
        let body = if body.starts_with(b"#!") {
            commented = [b"--".as_slice(), body].concat();
            commented.as_slice()
        } else {
            body
        };
        let f = self
            .lua
            .load(body)
            .set_name(USER_SCRIPT_CHUNK)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let text = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {text}")
            })?;
        self.compiled.insert(sha.to_string(), f.clone());
        Ok(f)
    }
}

/// How a script reads replies: RESP2 (default) or RESP3 after `redis.setresp(3)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LuaResp {
    Two,
    Three,
}

/// A command's reply as the script sees it (Redis's RESP → Lua conversion).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: LuaResp) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Simple(text) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(text.as_bytes())?)?;
            Value::Table(t)
        }
        Reply::Error(err) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(err.text().as_bytes())?)?;
            Value::Table(t)
        }
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Reply::Verbatim { format, text } => match resp {
            LuaResp::Two => Value::String(lua.create_string(text)?),
            LuaResp::Three => {
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(text)?)?;
                inner.raw_set("format", lua.create_string(format.as_bytes())?)?;
                let t = lua.create_table()?;
                t.raw_set("verbatim_string", inner)?;
                Value::Table(t)
            }
        },
        Reply::Nil | Reply::NilArray => match resp {
            LuaResp::Two => Value::Boolean(false),
            LuaResp::Three => Value::Nil,
        },
        Reply::Array(items) | Reply::Push(items) | Reply::Frames(items) => {
            array_to_lua(lua, items.iter(), resp)?
        }
        Reply::Set(items) => match resp {
            LuaResp::Two => array_to_lua(lua, items.iter(), resp)?,
            LuaResp::Three => {
                let set = lua.create_table()?;
                for item in items {
                    set.raw_set(reply_to_lua(lua, item, resp)?, true)?;
                }
                let t = lua.create_table()?;
                t.raw_set("set", set)?;
                Value::Table(t)
            }
        },
        Reply::Map(pairs) => match resp {
            LuaResp::Two => array_to_lua(lua, pairs.iter().flat_map(|(k, v)| [k, v]), resp)?,
            LuaResp::Three => map_to_lua(lua, pairs, resp)?,
        },
        Reply::MapOrPairs(pairs) => match resp {
            LuaResp::Two => {
                let t = lua.create_table()?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    let pair = array_to_lua(lua, [k, v].into_iter(), resp)?;
                    t.raw_set(i + 1, pair)?;
                }
                Value::Table(t)
            }
            LuaResp::Three => map_to_lua(lua, pairs, resp)?,
        },
        Reply::Pairs(pairs) => match resp {
            LuaResp::Two => array_to_lua(lua, pairs.iter().flat_map(|(k, v)| [k, v]), resp)?,
            LuaResp::Three => {
                let t = lua.create_table()?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    let pair = array_to_lua(lua, [k, v].into_iter(), resp)?;
                    t.raw_set(i + 1, pair)?;
                }
                Value::Table(t)
            }
        },
        Reply::Double(d) => match resp {
            LuaResp::Two => {
                let mut out = Vec::new();
                crate::numfmt::fmt_double(*d, &mut out);
                Value::String(lua.create_string(out)?)
            }
            LuaResp::Three => {
                let t = lua.create_table()?;
                t.raw_set("double", *d)?;
                Value::Table(t)
            }
        },
        Reply::DoubleText(text) => match resp {
            LuaResp::Two => Value::String(lua.create_string(text)?),
            LuaResp::Three => {
                let t = lua.create_table()?;
                let d: f64 = std::str::from_utf8(text)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                t.raw_set("double", d)?;
                Value::Table(t)
            }
        },
        Reply::Bool(b) => match resp {
            LuaResp::Two => Value::Number(if *b { 1.0 } else { 0.0 }),
            LuaResp::Three => Value::Boolean(*b),
        },
    })
}

fn array_to_lua<'r>(
    lua: &Lua,
    items: impl Iterator<Item = &'r Reply>,
    resp: LuaResp,
) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, item) in items.enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
    }
    Ok(Value::Table(t))
}

fn map_to_lua(lua: &Lua, pairs: &[(Reply, Reply)], resp: LuaResp) -> mlua::Result<Value> {
    let map = lua.create_table()?;
    for (k, v) in pairs {
        map.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
    }
    let t = lua.create_table()?;
    t.raw_set("map", map)?;
    Ok(Value::Table(t))
}

/// A script's result as the client's reply (Redis's Lua → RESP conversion). `client_resp3`:
/// the script chose RESP3 (`redis.setresp(3)`), so booleans answer as booleans.
pub fn lua_to_reply(value: &Value, client_resp3: bool, depth: usize) -> Reply {
    match value {
        Value::Nil => Reply::Nil,
        Value::Boolean(true) => {
            if client_resp3 {
                Reply::Bool(true)
            } else {
                Reply::Int(1)
            }
        }
        Value::Boolean(false) => {
            if client_resp3 {
                Reply::Bool(false)
            } else {
                Reply::Nil
            }
        }
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(truncate(*n)),
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Table(t) => table_to_reply(t, client_resp3, depth),
        _ => Reply::Nil,
    }
}

/// 2^63: doubles from -2^63 up to (not including) this convert to i64.
pub const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// C's cast of a double to long long as Redis's x86 build computes it.
fn truncate(n: f64) -> i64 {
    // x86's conversion answers i64::MIN for NaN and anything out of range.
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Nesting past this answers an error, as Redis's reply conversion bounds its recursion.
const REPLY_DEPTH_MAX: usize = 1000;

fn table_to_reply(t: &Table, client_resp3: bool, depth: usize) -> Reply {
    if depth >= REPLY_DEPTH_MAX {
        return Reply::Error(crate::error::CmdError::Relayed(
            "ERR reached lua stack limit".into(),
        ));
    }
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        let text = err.to_string_lossy();
        return Reply::Error(crate::error::CmdError::Relayed(sanitize(&text)));
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        let text = sanitize(&ok.to_string_lossy());
        return Reply::Simple(text.into());
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return Reply::Double(d);
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return Reply::Double(d as f64);
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in map.pairs::<Value, Value>().flatten() {
            pairs.push((
                lua_to_reply(&k, client_resp3, depth + 1),
                lua_to_reply(&v, client_resp3, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let mut items = Vec::new();
        for (k, _) in set.pairs::<Value, Value>().flatten() {
            items.push(lua_to_reply(&k, client_resp3, depth + 1));
        }
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply(&v, client_resp3, depth + 1)),
        }
        i += 1;
    }
    Reply::Array(items)
}

/// Redis writes status and error texts with newlines turned to spaces.
pub fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Arguments of `redis.call` as command arguments: strings, and numbers as Lua prints them.
pub fn call_args(args: &MultiValue) -> Option<Vec<Vec<u8>>> {
    args.iter()
        .map(|v| match v {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Integer(n) => Some(format_g(*n as f64, 17).into_bytes()),
            Value::Number(n) => Some(format_g(*n, 17).into_bytes()),
            _ => None,
        })
        .collect()
}

/// Runs `source` as an EVAL body with no keyspace behind `redis.call` (it is absent), within
/// `instructions_max` Lua instructions and `memory_max_bytes`: the reply, or the error text.
/// The fuzz target `script_source` runs arbitrary sources through it; the bounds make every
/// source end.
pub fn run_bounded(
    source: &[u8],
    args: &[&[u8]],
    instructions_max: u64,
    memory_max_bytes: usize,
) -> Result<Reply, String> {
    let rand = std::rc::Rc::new(std::cell::Cell::new(super::api::RAND48_INITIAL));
    let mut vm = Vm::new(rand).map_err(|e| e.to_string())?;
    vm.lua
        .set_memory_limit(memory_max_bytes)
        .map_err(|e| e.to_string())?;
    const STEP: u32 = 1000;
    let spent = std::cell::Cell::new(0u64);
    vm.lua
        .set_hook(
            mlua::HookTriggers::new().every_nth_instruction(STEP),
            move |_, _| {
                spent.set(spent.get() + u64::from(STEP));
                if spent.get() > instructions_max {
                    return Err(mlua::Error::RuntimeError("instruction budget spent".into()));
                }
                Ok(mlua::VmState::Continue)
            },
        )
        .map_err(|e| e.to_string())?;
    let sha = super::sha1_hex(source);
    let function = vm.compile(&sha, source)?;
    let argv = vm.lua.create_table().map_err(|e| e.to_string())?;
    for (i, arg) in args.iter().enumerate() {
        let arg = vm.lua.create_string(arg).map_err(|e| e.to_string())?;
        argv.raw_set(i + 1, arg).map_err(|e| e.to_string())?;
    }
    vm.globals
        .raw_set("ARGV", argv)
        .map_err(|e| e.to_string())?;
    let empty = vm.lua.create_table().map_err(|e| e.to_string())?;
    vm.globals
        .raw_set("KEYS", empty)
        .map_err(|e| e.to_string())?;
    let handler = vm
        .lua
        .create_function(|_, err: Value| Ok(err))
        .map_err(|e| e.to_string())?;
    match vm.xpcall.call::<(bool, Value)>((function, handler)) {
        Ok((true, value)) => Ok(lua_to_reply(&value, false, 0)),
        Ok((false, value)) => match raised_kind(&value) {
            RaisedKind::Message(text) => Err(text),
            RaisedKind::Abort => Err("aborted".into()),
        },
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    #[test]
    fn a_script_past_its_memory_answers_not_enough_memory_and_the_state_lives_on() {
        let grow = b"local t = {} for i = 1, 1e7 do t[i] = string.rep('x', 100) .. i end return #t";
        let err = run_bounded(grow, &[], u64::MAX, 4 << 20).unwrap_err();
        assert!(err.contains("not enough memory"), "{err}");
        let ok = run_bounded(b"return ARGV[1]", &[b"fine"], 1_000_000, 4 << 20);
        assert_eq!(ok.unwrap(), Reply::Bulk(b"fine".to_vec()));
    }

    #[test]
    fn an_endless_script_stops_at_its_instruction_budget() {
        let err = run_bounded(b"while true do end", &[], 1_000_000, 4 << 20).unwrap_err();
        assert!(err.contains("instruction budget spent"), "{err}");
    }
}
