//! LuaBitOp's `bit` library, which Redis ships: 32-bit operations on Lua numbers, results as
//! signed 32-bit numbers.

use mlua::{Lua, Table, Value, Variadic};

/// LuaBitOp's normalisation: add 2^52 + 2^51 and keep the low 32 bits of the mantissa, which
/// rounds a fraction to even and wraps out-of-range numbers modulo 2^32.
fn to_bit(lua: &Lua, value: &Value, arg: usize, name: &str) -> mlua::Result<i32> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Number(f) => *f,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_argument(lua, arg, name, value))?,
        other => return Err(bad_argument(lua, arg, name, other)),
    };
    Ok((n + 6_755_399_441_055_744.0).to_bits() as u32 as i32)
}

fn bad_argument(lua: &Lua, arg: usize, name: &str, value: &Value) -> mlua::Error {
    let got = match value {
        Value::Nil => "no value".to_string(),
        other => super::vm::type_name(Some(other)).to_string(),
    };
    super::vm::lua_error(
        lua,
        format!("bad argument #{arg} to '{name}' (number expected, got {got})"),
    )
}

fn fold(lua: &Lua, name: &'static str, op: fn(i32, i32) -> i32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, args: Variadic<Value>| {
        let first = args.first().cloned().unwrap_or(Value::Nil);
        let mut acc = to_bit(lua, &first, 1, name)?;
        for (i, v) in args.iter().enumerate().skip(1) {
            acc = op(acc, to_bit(lua, v, i + 1, name)?);
        }
        Ok(acc as f64)
    })
}

fn shift(lua: &Lua, name: &'static str, op: fn(i32, u32) -> i32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, (x, n): (Value, Value)| {
        let x = to_bit(lua, &x, 1, name)?;
        let n = to_bit(lua, &n, 2, name)? as u32 & 31;
        Ok(op(x, n) as f64)
    })
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.set(
        "tobit",
        lua.create_function(|lua, x: Value| Ok(to_bit(lua, &x, 1, "tobit")? as f64))?,
    )?;
    bit.set(
        "bnot",
        lua.create_function(|lua, x: Value| Ok(!to_bit(lua, &x, 1, "bnot")? as f64))?,
    )?;
    bit.set(
        "bswap",
        lua.create_function(|lua, x: Value| Ok(to_bit(lua, &x, 1, "bswap")?.swap_bytes() as f64))?,
    )?;
    bit.set("band", fold(lua, "band", |a, b| a & b)?)?;
    bit.set("bor", fold(lua, "bor", |a, b| a | b)?)?;
    bit.set("bxor", fold(lua, "bxor", |a, b| a ^ b)?)?;
    bit.set(
        "lshift",
        shift(lua, "lshift", |x, n| ((x as u32) << n) as i32)?,
    )?;
    bit.set(
        "rshift",
        shift(lua, "rshift", |x, n| ((x as u32) >> n) as i32)?,
    )?;
    bit.set("arshift", shift(lua, "arshift", |x, n| x >> n)?)?;
    bit.set(
        "rol",
        shift(lua, "rol", |x, n| (x as u32).rotate_left(n) as i32)?,
    )?;
    bit.set(
        "ror",
        shift(lua, "ror", |x, n| (x as u32).rotate_right(n) as i32)?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|lua, (x, n): (Value, Option<Value>)| {
            let x = to_bit(lua, &x, 1, "tohex")? as u32;
            let mut n = match n {
                None | Some(Value::Nil) => 8,
                Some(v) => to_bit(lua, &v, 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                // -INT32_MIN does not fit: Redis's fix for CVE-2024-31449 takes INT32_MIN + 1.
                n = n.max(i32::MIN + 1).wrapping_neg();
            }
            let n = n.clamp(0, 8) as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - n..].to_string())
        })?,
    )?;
    Ok(bit)
}
