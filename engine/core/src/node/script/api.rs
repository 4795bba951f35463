//! The parts of the `redis` table that need no running command: replies, SHA1, logging levels,
//! replication switches (accepted, as Redis 7.0 always replicates effects), and Redis's
//! `math.random`, the rand48 sequence kept per thread.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{Lua, Table, Value, Variadic};

use super::vm::{CallbackError, LuaResp};
use crate::cmd::server::REDIS_VERSION_COMPAT;

/// rand48's start when never seeded, as Redis's `redisLrand48` begins.
pub const RAND48_INITIAL: u64 = 0x1234_ABCD_330E;
const RAND48_MASK: u64 = (1 << 48) - 1;
/// Redis divides by INT32_MAX.
const RAND48_MAX: u64 = i32::MAX as u64;

/// The state shared by the `redis` functions of one run, kept as Lua app data.
pub struct RunFlags {
    pub resp: Cell<LuaResp>,
}

/// The thread's rand48 state, shared with the `Scripting` that outlives each Lua state.
struct Rand48(Rc<Cell<u64>>);

impl Rand48 {
    fn next(&self) -> u64 {
        let x = (0x5_DEEC_E66D_u64
            .wrapping_mul(self.0.get())
            .wrapping_add(0xB))
            & RAND48_MASK;
        self.0.set(x);
        x >> 17
    }
}

fn raise(text: &str) -> mlua::Error {
    mlua::Error::external(CallbackError::Reply(format!("ERR {text}")))
}

fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(t)
}

pub fn install(lua: &Lua, globals: &Table, redis: &Table, rand: Rc<Cell<u64>>) -> mlua::Result<()> {
    lua.set_app_data(RunFlags {
        resp: Cell::new(LuaResp::Two),
    });
    lua.set_app_data(Rand48(rand));
    redis.set("REDIS_VERSION", REDIS_VERSION_COMPAT)?;
    let num = REDIS_VERSION_COMPAT.split('.').fold(0i64, |acc, part| {
        acc * 256 + part.parse::<i64>().unwrap_or(0)
    });
    redis.set("REDIS_VERSION_NUM", num)?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.set(name, level)?;
    }
    for (name, flags) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, flags)?;
    }
    redis.set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| {
            let text = match args.as_slice() {
                [Value::String(s)] => s.to_string_lossy(),
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            };
            error_table(lua, text.strip_prefix('-').unwrap_or(&text))
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| {
            let text = match args.as_slice() {
                [Value::String(s)] => s.as_bytes().to_vec(),
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            };
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(text)?)?;
            Ok(t)
        })?,
    )?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, args: Variadic<Value>| match args.as_slice() {
            [Value::String(s)] => Ok(super::sha1_hex(&s.as_bytes())),
            [Value::Integer(n)] => Ok(super::sha1_hex(
                super::vm::format_number(*n as f64).as_bytes(),
            )),
            [Value::Number(n)] => Ok(super::sha1_hex(super::vm::format_number(*n).as_bytes())),
            _ => Err(raise("wrong number of arguments")),
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise("redis.log() requires two arguments or more."));
            }
            match args[0] {
                Value::Integer(level) if (0..=3).contains(&level) => Ok(()),
                Value::Number(level) if (0.0..=3.0).contains(&level) => Ok(()),
                Value::Integer(_) | Value::Number(_) => Err(raise("Invalid debug level.")),
                _ => Err(raise("First argument must be a number (log level).")),
            }
        })?,
    )?;
    redis.set(
        "setresp",
        lua.create_function(|lua, args: Variadic<Value>| {
            let version = match args.as_slice() {
                [Value::Integer(n)] => *n as f64,
                [Value::Number(n)] => *n,
                _ => return Err(raise("redis.setresp() requires one argument.")),
            };
            let resp = match version as i64 {
                2 => LuaResp::Two,
                3 => LuaResp::Three,
                _ => return Err(raise("RESP version must be 2 or 3.")),
            };
            if let Some(flags) = lua.app_data_ref::<RunFlags>() {
                flags.resp.set(resp);
            }
            Ok(())
        })?,
    )?;
    redis.set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            let flags = match args.as_slice() {
                [Value::Integer(n)] => *n,
                [Value::Number(n)] => *n as i64,
                _ => return Err(raise("redis.set_repl() requires two arguments.")),
            };
            if !(0..=3).contains(&flags) {
                return Err(raise(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            Ok(())
        })?,
    )?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set(
        "debug",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
    let math: Table = globals.get("math")?;
    math.set(
        "random",
        lua.create_function(|lua, args: Variadic<Value>| {
            let rand = lua.app_data_ref::<Rand48>().expect("rand48 state");
            let r = (rand.next() % RAND48_MAX) as f64 / RAND48_MAX as f64;
            let int_arg = |v: &Value, n: usize| -> mlua::Result<i64> {
                match v {
                    Value::Integer(i) => Ok(*i),
                    Value::Number(f) => Ok(*f as i64),
                    _ => Err(super::vm::lua_error(
                        lua,
                        format!(
                            "bad argument #{n} to 'random' (number expected, got {})",
                            super::vm::type_name(Some(v))
                        ),
                    )),
                }
            };
            match args.as_slice() {
                [] => Ok(r),
                [u] => {
                    let u = int_arg(u, 1)?;
                    if u < 1 {
                        return Err(super::vm::lua_error(
                            lua,
                            "bad argument #1 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                [l, u] => {
                    let (l, u) = (int_arg(l, 1)?, int_arg(u, 2)?);
                    if l > u {
                        return Err(super::vm::lua_error(
                            lua,
                            "bad argument #2 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * (u - l + 1) as f64).floor() + l as f64)
                }
                _ => Err(super::vm::lua_error(lua, "wrong number of arguments")),
            }
        })?,
    )?;
    math.set(
        "randomseed",
        lua.create_function(|lua, seed: Value| {
            let seed = match seed {
                Value::Integer(i) => i,
                Value::Number(f) => f as i64,
                _ => 0,
            };
            let rand = lua.app_data_ref::<Rand48>().expect("rand48 state");
            rand.0
                .set((((seed as i32 as u32 as u64) << 16) | 0x330E) & RAND48_MASK);
            Ok(())
        })?,
    )?;
    Ok(())
}

/// `luaL_checkint` on x86-64: the number to a 64-bit integer (i64::MIN when out of range),
/// then its low 32 bits.
fn check_int(lua: &Lua, value: &Value, arg: usize, name: &str) -> mlua::Result<i32> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Number(f) => *f,
        Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(f) => f,
            None => return Err(bad_number(lua, arg, name, value)),
        },
        other => return Err(bad_number(lua, arg, name, other)),
    };
    let wide = if n.is_nan() || !(-super::vm::TWO_POW_63..super::vm::TWO_POW_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    };
    Ok(wide as i32)
}

fn bad_number(lua: &Lua, arg: usize, name: &str, value: &Value) -> mlua::Error {
    let got = match value {
        Value::Nil => "no value",
        other => super::vm::type_name(Some(other)),
    };
    super::vm::lua_error(
        lua,
        format!("bad argument #{arg} to '{name}' (number expected, got {got})"),
    )
}

/// Lua's C stack limit (LUAI_MAXCSTACK): `lua_checkstack` refuses to grow a C function's
/// stack past it.
const C_STACK_MAX: i64 = 8000;

/// `unpack` with Redis's fix for the count overflow (CVE-2025-46817): the count is computed
/// without overflow and refused past the C stack limit, as `lua_checkstack` would.
pub fn install_unpack(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let Some(Value::Table(t)) = args.first() else {
                let got = match args.first() {
                    None | Some(Value::Nil) => "no value",
                    Some(other) => super::vm::type_name(Some(other)),
                };
                return Err(super::vm::lua_error(
                    lua,
                    format!("bad argument #1 to 'unpack' (table expected, got {got})"),
                ));
            };
            let first = match args.get(1) {
                None | Some(Value::Nil) => 1,
                Some(v) => check_int(lua, v, 2, "unpack")?,
            };
            let last = match args.get(2) {
                None | Some(Value::Nil) => t.raw_len() as i32,
                Some(v) => check_int(lua, v, 3, "unpack")?,
            };
            if first > last {
                return Ok(mlua::MultiValue::new());
            }
            let count = i64::from(last) - i64::from(first) + 1;
            if count >= i64::from(i32::MAX) || count + args.len() as i64 > C_STACK_MAX {
                return Err(super::vm::lua_error(lua, "too many results to unpack"));
            }
            let mut out = mlua::MultiValue::with_capacity(count as usize);
            for i in first..=last {
                out.push_back(t.raw_get::<Value>(i64::from(i))?);
            }
            Ok(out)
        })?,
    )
}
