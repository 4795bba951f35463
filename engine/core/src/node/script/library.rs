//! Libraries in a Lua state: running a library's code so it registers its functions, and the
//! environment functions live in.
//!
//! Library code and its functions share one environment, a read-only proxy whose lookups go
//! to one of two tables, as Redis 7.0 switches its globals' `__index`: while a library loads,
//! only `redis` with `register_function`, `log`, the log levels and the version; once loaded,
//! the ordinary script globals (without KEYS and ARGV). Both answer a missing name with
//! Redis's "Script attempted to access nonexistent global variable".

use std::cell::RefCell;

use mlua::{Function, Lua, Table, Value, Variadic};

use super::function::{FunctionMeta, FUNCTION_FLAGS, NAME_RULE};
use super::vm::{CallbackError, RaisedKind, Vm};

/// The chunk name Redis gives library code: errors read `user_function:2:`.
pub const USER_FUNCTION_CHUNK: &str = "@user_function";

const FUNCTION_ENV_SETUP: &str = r#"
local G, load_redis = ...
local setmetatable0, error0, tostring0 = setmetatable, error, tostring
local function readonly() error0("Attempt to modify a readonly table", 2) end
local function strict_proxy(lookup)
  local proxy = {}
  setmetatable0(proxy, {
    __index = function(_, k)
      local v = lookup()[k]
      if v == nil then
        error0("Script attempted to access nonexistent global variable '" .. tostring0(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly,
    __metatable = {},
  })
  return proxy
end
local load_api = {redis = strict_proxy(function() return load_redis end)}
local current = G
local env = strict_proxy(function() return current end)
local function set_loading(loading)
  if loading then current = load_api else current = G end
end
return env, load_api.redis, set_loading
"#;

/// Lua instructions a library's code may run while it loads. Redis stops a load after 500 ms
/// of its clock; a clock would stop nothing in the simulator (time stands still within a
/// step), so the bound counts instructions instead: roughly the same order of time, and the
/// same error.
pub const LOAD_INSTRUCTIONS_MAX: u64 = 50_000_000;
/// How often the load's hook counts.
const LOAD_HOOK_EVERY: u32 = 10_000;

/// A function as `redis.register_function` handed it over, before the library is accepted.
pub struct Registered {
    pub meta: FunctionMeta,
    pub callback: Function,
}

/// The registrations of the library loading now; None outside a load.
struct Registering(RefCell<Option<Vec<Registered>>>);

/// The Lua side of functions in one state: the environment and its switch.
pub struct FunctionEnv {
    env: Table,
    set_loading: Function,
}

/// Errors `register_function` raises, with Redis's "ERR " and no position.
fn refuse(text: &str) -> mlua::Error {
    mlua::Error::external(CallbackError::Reply(format!("ERR {text}")))
}

/// A Lua string or number as text (`lua_isstring` holds for both).
fn text_of(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(super::vm::format_number(*n as f64).into_bytes()),
        Value::Number(n) => Some(super::vm::format_number(*n).into_bytes()),
        _ => None,
    }
}

/// The flags table of a named registration, as indexes into `FUNCTION_FLAGS`.
fn read_flags(flags: &Table) -> mlua::Result<Vec<usize>> {
    let mut out = Vec::new();
    for pair in flags.clone().pairs::<Value, Value>() {
        let (_, flag) = pair?;
        let known = match &flag {
            Value::String(s) => FUNCTION_FLAGS
                .iter()
                .position(|f| s.as_bytes() == f.as_bytes()),
            _ => None,
        };
        let Some(at) = known else {
            return Err(refuse("unknown flag given"));
        };
        if !out.contains(&at) {
            out.push(at);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// `redis.register_function{function_name=, callback=, flags=, description=}`.
fn read_named(args: &Table) -> mlua::Result<Registered> {
    let (mut name, mut callback, mut description, mut flags) = (None, None, None, Vec::new());
    for pair in args.clone().pairs::<Value, Value>() {
        let (key, value) = pair?;
        let Some(key) = text_of(&key) else {
            return Err(refuse(
                "named argument key given to redis.register_function is not a string",
            ));
        };
        let key = String::from_utf8_lossy(&key).to_lowercase();
        match key.as_str() {
            "function_name" => {
                name = Some(text_of(&value).ok_or_else(|| {
                    refuse(
                        "function_name argument given to redis.register_function must be a string",
                    )
                })?)
            }
            "description" => {
                description = Some(text_of(&value).ok_or_else(|| {
                    refuse("description argument given to redis.register_function must be a string")
                })?)
            }
            "callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(refuse(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            },
            "flags" => {
                match value {
                    Value::Table(t) => flags = read_flags(&t)?,
                    _ => return Err(refuse(
                        "flags argument to redis.register_function must be a table representing \
                         function flags",
                    )),
                }
            }
            _ => return Err(refuse("unknown argument given to redis.register_function")),
        }
    }
    let Some(name) = name else {
        return Err(refuse(
            "redis.register_function must get a function name argument",
        ));
    };
    let Some(callback) = callback else {
        return Err(refuse(
            "redis.register_function must get a callback argument",
        ));
    };
    Ok(Registered {
        meta: FunctionMeta {
            name: String::from_utf8_lossy(&name).into_owned(),
            description,
            flags,
        },
        callback,
    })
}

fn register(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let registered = match args.as_slice() {
        [Value::Table(named)] => read_named(named)?,
        [_] => {
            return Err(refuse(
                "calling redis.register_function with a single argument is only applicable to \
                 Lua table (representing named arguments).",
            ))
        }
        [name, callback] => {
            let name = text_of(name).ok_or_else(|| {
                refuse("first argument to redis.register_function must be a string")
            })?;
            let Value::Function(callback) = callback else {
                return Err(refuse(
                    "second argument to redis.register_function must be a function",
                ));
            };
            Registered {
                meta: FunctionMeta {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    description: None,
                    flags: Vec::new(),
                },
                callback: callback.clone(),
            }
        }
        _ => {
            return Err(refuse(
                "wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !super::function::valid_name(registered.meta.name.as_bytes()) {
        return Err(refuse(NAME_RULE.trim_start_matches("ERR ")));
    }
    let registering = lua
        .app_data_ref::<Registering>()
        .expect("registering state");
    let mut pending = registering.0.borrow_mut();
    let Some(pending) = pending.as_mut() else {
        return Err(refuse(
            "redis.register_function can only be called on FUNCTION LOAD command",
        ));
    };
    let name = &registered.meta.name;
    // Within a library names are compared exactly (Redis's library dict), across libraries
    // ignoring case.
    if pending.iter().any(|r| r.meta.name == *name) {
        return Err(refuse("Function already exists in the library"));
    }
    pending.push(registered);
    Ok(())
}

/// Sets up functions in `vm`: the environment and the load-time `redis` table.
pub fn install(vm: &Vm) -> mlua::Result<FunctionEnv> {
    let lua = &vm.lua;
    lua.set_app_data(Registering(RefCell::new(None)));
    let load_redis = lua.create_table()?;
    load_redis.set("register_function", lua.create_function(register)?)?;
    for name in [
        "log",
        "LOG_DEBUG",
        "LOG_VERBOSE",
        "LOG_NOTICE",
        "LOG_WARNING",
        "REDIS_VERSION",
        "REDIS_VERSION_NUM",
    ] {
        load_redis.set(name, vm.redis.get::<Value>(name)?)?;
    }
    let (env, redis_proxy, set_loading): (Table, Table, Function) = lua
        .load(FUNCTION_ENV_SETUP)
        .set_name("=functions")
        .call((vm.globals.clone(), load_redis))?;
    vm.protect(&env)?;
    vm.protect(&redis_proxy)?;
    Ok(FunctionEnv { env, set_loading })
}

/// Runs a library's code (the part after its shebang) and collects what it registered;
/// Redis's error text when it does not compile or fails while running.
pub fn load(vm: &Vm, fenv: &FunctionEnv, body: &[u8]) -> Result<Vec<Registered>, String> {
    let chunk = vm
        .lua
        .load(body)
        .set_name(USER_FUNCTION_CHUNK)
        .set_mode(mlua::chunk::ChunkMode::Text)
        .set_environment(fenv.env.clone())
        .into_function()
        .map_err(|e| {
            let text = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            format!("ERR Error compiling function: {text}")
        })?;
    let registering = || {
        vm.lua
            .app_data_ref::<Registering>()
            .expect("registering state")
    };
    *registering().0.borrow_mut() = Some(Vec::new());
    fenv.set_loading.call::<()>(true).expect("switch globals");
    let spent = std::cell::Cell::new(0u64);
    let triggers = mlua::HookTriggers::new().every_nth_instruction(LOAD_HOOK_EVERY);
    vm.lua
        .set_hook(triggers, move |_, _| {
            spent.set(spent.get() + u64::from(LOAD_HOOK_EVERY));
            if spent.get() > LOAD_INSTRUCTIONS_MAX {
                let timeout = CallbackError::Reply("ERR FUNCTION LOAD timeout".into());
                return Err(mlua::Error::external(timeout));
            }
            Ok(mlua::VmState::Continue)
        })
        .expect("a hook on the functions' state");
    // Through xpcall, as a script runs: the raised value as raised, without mlua's traceback.
    let handler = vm
        .lua
        .create_function(|_, err: Value| Ok(err))
        .expect("a handler");
    let ran = vm.xpcall.call::<(bool, Value)>((chunk, handler));
    vm.lua.remove_hook();
    fenv.set_loading.call::<()>(false).expect("switch globals");
    let registered = registering().0.borrow_mut().take().unwrap_or_default();
    let raised = match ran {
        Ok((true, _)) => return Ok(registered),
        Ok((false, value)) => super::vm::raised_kind(&value),
        Err(err) => super::vm::raised_kind(&Value::Error(Box::new(err))),
    };
    let text = match raised {
        RaisedKind::Message(text) => text,
        RaisedKind::Abort => "ERR script aborted".into(),
    };
    Err(format!("ERR Error registering functions: {text}"))
}
