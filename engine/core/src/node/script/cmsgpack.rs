//! lua-cmsgpack 0.4.0 as Redis ships it: `cmsgpack.pack(...)`, `unpack(s)`,
//! `unpack_one(s [, offset])`, `unpack_limit(s, limit [, offset])`, byte for byte.
//!
//! Packing: numbers that are whole 64-bit values become the smallest integer form, other
//! numbers a float when a float holds them exactly, else a double; a table with keys exactly
//! 1..n is an array, any other a map (in `next` order, as Redis's C walks it); nesting past
//! 16 tables packs nil, so a table holding itself packs. Unpacking keeps Redis's limits: Lua's
//! C stack of 8000 slots is counted as Redis's C code fills it (a table and its pending key or
//! index per level, and every value already decoded at the top), so input too deep or too long
//! fails with Redis's "stack overflow (...)" where redis-server's does. One gap: mlua keeps
//! a few slots of the callback's frame, so 7996 to 7999 values at the top level fail with
//! mlua's "out of Lua stack" where Redis returns them.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::vm::{format_number, lua_error, type_name};

/// LUACMSGPACK_MAX_NESTING: deeper tables pack as nil.
const NESTING_MAX: usize = 16;
/// LUAI_MAXCSTACK: the slots a C function may use.
const C_STACK_SLOTS_MAX: usize = 8000;

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = check_string(lua, &args, 1, "unpack")?;
            unpack(lua, &s, None, args.len())
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = check_string(lua, &args, 1, "unpack_one")?;
            let offset = opt_integer(lua, &args, 2, "unpack_one")?;
            unpack(lua, &s, Some((1, offset)), args.len())
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = check_string(lua, &args, 1, "unpack_limit")?;
            let limit = match args.get(1) {
                Some(v @ (Value::Integer(_) | Value::Number(_) | Value::String(_))) => {
                    number_of(v).map(|n| n as i64)
                }
                _ => None,
            };
            let Some(limit) = limit else {
                return Err(bad_argument(lua, 2, "unpack_limit", "number", args.get(1)));
            };
            let offset = opt_integer(lua, &args, 3, "unpack_limit")?;
            unpack(lua, &s, Some((limit, offset)), args.len())
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

fn bad_argument(lua: &Lua, n: usize, name: &str, want: &str, got: Option<&Value>) -> mlua::Error {
    let got = match got {
        None | Some(Value::Nil) => "no value",
        Some(other) => type_name(Some(other)),
    };
    lua_error(
        lua,
        format!("bad argument #{n} to '{name}' ({want} expected, got {got})"),
    )
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// `luaL_checklstring`: a string, or a number as Lua prints it.
pub(crate) fn check_string(
    lua: &Lua,
    args: &[Value],
    n: usize,
    name: &str,
) -> mlua::Result<Vec<u8>> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(format_number(*i as f64).into_bytes()),
        Some(Value::Number(f)) => Ok(format_number(*f).into_bytes()),
        other => Err(bad_argument(lua, n, name, "string", other)),
    }
}

/// `luaL_optinteger(L, n, 0)`.
fn opt_integer(lua: &Lua, args: &[Value], n: usize, name: &str) -> mlua::Result<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(0),
        Some(v) => number_of(v)
            .map(|f| f as i64)
            .ok_or_else(|| bad_argument(lua, n, name, "number", Some(v))),
    }
}

/// C's `(int64_t)x` on x86-64: out of range and NaN give INT64_MIN.
fn to_i64(x: f64) -> i64 {
    if x.is_nan() || !(-super::vm::TWO_POW_63..super::vm::TWO_POW_63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::LuaString> {
    if args.is_empty() {
        return Err(lua_error(
            lua,
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ));
    }
    let mut out = Vec::new();
    for arg in args.iter() {
        encode(lua, arg, 0, &mut out)?;
    }
    lua.create_string(out)
}

fn encode(lua: &Lua, value: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_number(*n as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Table(t) if level < NESTING_MAX => encode_table(lua, t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    let whole = to_i64(n);
    if !n.is_infinite() && whole as f64 == n {
        encode_int(whole, out);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// A header of `small` (with the count in its low bits, up to `small_max`), else the 16- or
/// 32-bit form.
fn header(out: &mut Vec<u8>, len: usize, small: u8, small_max: usize, wide: u8) {
    if len <= small_max {
        out.push(small | len as u8);
    } else if len <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    if s.len() < 32 {
        out.push(0xa0 | s.len() as u8);
    } else if s.len() <= 0xff {
        out.extend_from_slice(&[0xd9, s.len() as u8]);
    } else {
        header(out, s.len(), 0, 0, 0xda);
    }
    out.extend_from_slice(s);
}

/// Redis's test: every key a whole positive number (a 32-bit int) and no holes.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        let n = match key {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || !(n <= f64::from(i32::MAX) && (n as i32) as f64 == n) {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode_table(lua: &Lua, t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if is_array(t)? {
        let len = t.raw_len();
        header(out, len, 0x90, 15, 0xdc);
        for i in 1..=len {
            encode(lua, &t.raw_get::<Value>(i)?, level + 1, out)?;
        }
        return Ok(());
    }
    // Counted, then walked again: each pair is encoded as it comes, as holding every key
    // and value at once would take a Lua reference each.
    let mut len = 0;
    for pair in t.clone().pairs::<Value, Value>() {
        pair?;
        len += 1;
    }
    header(out, len, 0x80, 15, 0xde);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair?;
        encode(lua, &k, level + 1, out)?;
        encode(lua, &v, level + 1, out)?;
    }
    Ok(())
}

/// Why decoding stopped.
enum Failure {
    /// Input ended inside a value.
    Missing,
    BadFormat,
    /// The C stack would pass its limit; Redis's words for where.
    Stack(&'static str),
    /// A map key Lua refuses ("table index is nil" / "NaN").
    Key(&'static str),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Failure {
        Failure::Lua(e)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Failure> {
        if self.left() < n {
            return Err(Failure::Missing);
        }
        self.at += n;
        Ok(&self.bytes[self.at - n..self.at])
    }

    fn be(&mut self, n: usize) -> Result<u64, Failure> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }
}

const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// What one tag starts: a whole value, or a table whose items follow.
enum Start {
    Value(Value),
    Table { len: usize, map: bool },
}

fn start(lua: &Lua, c: &mut Cursor) -> Result<Start, Failure> {
    let tag = c.take(1)?[0];
    let number = |n: f64| Ok(Start::Value(Value::Number(n)));
    let table = |len: u64, map: bool| {
        Ok(Start::Table {
            len: len as usize,
            map,
        })
    };
    match tag {
        0xcc => number(c.be(1)? as f64),
        0xcd => number(c.be(2)? as f64),
        0xce => number(c.be(4)? as f64),
        0xcf => number(c.be(8)? as i64 as f64),
        0xd0 => number(f64::from(c.be(1)? as u8 as i8)),
        0xd1 => number(f64::from(c.be(2)? as u16 as i16)),
        0xd2 => number(f64::from(c.be(4)? as u32 as i32)),
        0xd3 => number(c.be(8)? as i64 as f64),
        0xc0 => Ok(Start::Value(Value::Nil)),
        0xc3 => Ok(Start::Value(Value::Boolean(true))),
        0xc2 => Ok(Start::Value(Value::Boolean(false))),
        0xca => number(f64::from(f32::from_bits(c.be(4)? as u32))),
        0xcb => number(f64::from_bits(c.be(8)?)),
        0xd9 | 0xc4 => string(lua, c, 1),
        0xda | 0xc5 => string(lua, c, 2),
        0xdb | 0xc6 => string(lua, c, 4),
        0xdc => table(c.be(2)?, false),
        0xdd => table(c.be(4)?, false),
        0xde => table(c.be(2)?, true),
        0xdf => table(c.be(4)?, true),
        _ if tag & 0x80 == 0 => number(f64::from(tag)),
        _ if tag & 0xe0 == 0xe0 => number(f64::from(tag as i8)),
        _ if tag & 0xe0 == 0xa0 => {
            let bytes = c.take(usize::from(tag & 0x1f))?;
            Ok(Start::Value(Value::String(lua.create_string(bytes)?)))
        }
        _ if tag & 0xf0 == 0x90 => table(u64::from(tag & 0x0f), false),
        _ if tag & 0xf0 == 0x80 => table(u64::from(tag & 0x0f), true),
        _ => Err(Failure::BadFormat),
    }
}

fn string(lua: &Lua, c: &mut Cursor, len_bytes: usize) -> Result<Start, Failure> {
    let len = c.be(len_bytes)? as usize;
    let bytes = c.take(len)?;
    Ok(Start::Value(Value::String(lua.create_string(bytes)?)))
}

/// A table being filled: its items left, the next array index, a map's decoded key.
struct Open {
    table: Table,
    left: usize,
    map: bool,
    index: usize,
    key: Option<Value>,
}

impl Open {
    /// Slots it holds while an item decodes: the table, and an array's index.
    fn slots(&self) -> usize {
        1 + usize::from(!self.map)
    }
}

/// One top-level value, with `used` slots of Lua's C stack already taken. An explicit stack
/// of open tables, not recursion: the input decides the depth. The slots are counted as
/// Redis's recursive decoder fills them (see the module comment).
fn decode(lua: &Lua, c: &mut Cursor, mut used: usize) -> Result<Value, Failure> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        if used + 1 > C_STACK_SLOTS_MAX {
            return Err(Failure::Stack(TOO_MANY));
        }
        let mut value = match start(lua, c)? {
            Start::Value(v) => v,
            Start::Table { len, map } => {
                let table = lua.create_table()?;
                if used + 2 > C_STACK_SLOTS_MAX {
                    return Err(Failure::Stack(if map {
                        "in function mp_decode_to_lua_hash"
                    } else {
                        "in function mp_decode_to_lua_array"
                    }));
                }
                if len > 0 {
                    let frame = Open {
                        table,
                        left: len,
                        map,
                        index: 1,
                        key: None,
                    };
                    used += frame.slots();
                    open.push(frame);
                    continue;
                }
                Value::Table(table)
            }
        };
        // Hand the value to the tables it completes, innermost first.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(value);
            };
            if top.map && top.key.is_none() {
                top.key = Some(value);
                used += 1;
                break;
            }
            if top.map {
                let key = top.key.take().expect("a key before its value");
                used -= 1;
                match &key {
                    Value::Nil => return Err(Failure::Key("table index is nil")),
                    Value::Number(n) if n.is_nan() => {
                        return Err(Failure::Key("table index is NaN"))
                    }
                    _ => top.table.raw_set(key, value)?,
                }
            } else {
                top.table.raw_set(top.index, value)?;
                top.index += 1;
            }
            top.left -= 1;
            if top.left > 0 {
                break;
            }
            let done = open.pop().expect("the top");
            used -= done.slots();
            value = Value::Table(done.table);
        }
    }
}

/// `limit_offset` None decodes everything; else at most `limit` values from `offset`, with
/// the next offset (-1 at the end) returned first.
fn unpack(
    lua: &Lua,
    s: &[u8],
    limit_offset: Option<(i64, i64)>,
    args: usize,
) -> mlua::Result<MultiValue> {
    let (limit, offset) = limit_offset.unwrap_or((0, 0));
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(lua_error(
            lua,
            format!(
                "Invalid request to unpack with offset of {offset} and limit of {}.",
                s.len()
            ),
        ));
    }
    if offset as usize > s.len() {
        return Err(lua_error(
            lua,
            format!(
                "Start offset {offset} greater than input length {}.",
                s.len()
            ),
        ));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut c = Cursor {
        bytes: s,
        at: offset as usize,
    };
    let mut values = MultiValue::new();
    while c.left() > 0 && (values.len() as i64) < limit {
        match decode(lua, &mut c, args + values.len()) {
            Ok(value) => values.push_back(value),
            Err(Failure::Missing) => return Err(lua_error(lua, "Missing bytes in input.")),
            Err(Failure::BadFormat) => return Err(lua_error(lua, "Bad data format in input.")),
            Err(Failure::Stack(what)) => {
                return Err(lua_error(lua, format!("stack overflow ({what})")))
            }
            Err(Failure::Key(text)) => return Err(mlua::Error::RuntimeError(text.into())),
            Err(Failure::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.at as i64 };
        values.push_front(Value::Number(next as f64));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(lua: &Lua, code: &str) -> Vec<u8> {
        let t = table(lua).unwrap();
        lua.globals().set("cmsgpack", t).unwrap();
        let s: mlua::LuaString = lua.load(code).eval().unwrap();
        s.as_bytes().to_vec()
    }

    #[test]
    fn integers_take_the_smallest_form() {
        let lua = Lua::new();
        let got = packed(
            &lua,
            "return cmsgpack.pack(1, -1, 128, 65536, -33, -2^31, 2^63)",
        );
        let want: &[u8] = &[
            0x01, 0xff, 0xcc, 0x80, 0xce, 0, 1, 0, 0, 0xd0, 0xdf, 0xd2, 0x80, 0, 0, 0, 0xca, 0x5f,
            0, 0, 0,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_table_holding_itself_packs_16_levels_then_nil() {
        let lua = Lua::new();
        let got = packed(&lua, "local t = {} t[1] = t return cmsgpack.pack(t)");
        let mut want = vec![0x91; NESTING_MAX];
        want.push(0xc0);
        assert_eq!(got, want);
    }

    #[test]
    fn deep_input_stops_at_redis_stack_limit() {
        let lua = Lua::new();
        lua.globals().set("cmsgpack", table(&lua).unwrap()).unwrap();
        let run = |code: &str| lua.load(code).exec().map_err(|e| e.to_string());
        assert!(run("cmsgpack.unpack(string.rep('\\145', 3999) .. '\\192')").is_ok());
        let err = run("cmsgpack.unpack(string.rep('\\145', 4000) .. '\\192')").unwrap_err();
        assert!(
            err.contains("stack overflow (in function mp_decode_to_lua_array)"),
            "{err}"
        );
        // mlua needs slots of its own to return values: fewer than Redis's 7999 come back.
        let ok = run("local n = #{cmsgpack.unpack(string.rep('\\1', 7900))}");
        assert!(ok.is_ok(), "{ok:?}");
        let err = run("cmsgpack.unpack(string.rep('\\1', 8000))").unwrap_err();
        assert!(err.contains("too many return values"), "{err}");
    }
}
