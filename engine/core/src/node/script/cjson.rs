//! The `cjson` library Redis ships (lua-cjson 2.1.0 with its defaults): `encode`, `decode` and
//! `null`. Encoding writes numbers as `%.14g`, escapes `/`, refuses NaN and infinities,
//! excessively sparse arrays and nesting past 1000; an empty table is `{}`. Decoding reads
//! `null` as `cjson.null` (a NULL light userdata).

use mlua::{LightUserData, Lua, Table, Value, Variadic};

use super::vm::{format_number, lua_error};

/// lua-cjson's default nesting limit, for encoding and decoding alike.
const DEPTH_MAX: usize = 1000;
/// An array whose largest index exceeds this and twice its element count is "excessively
/// sparse" (lua-cjson's `encode_sparse_array` defaults: ratio 2, safe 10).
const SPARSE_SAFE: usize = 10;
const SPARSE_RATIO: usize = 2;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    cjson.set(
        "encode",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(lua_error(
                    lua,
                    "bad argument #1 to 'encode' (expected 1 argument)",
                ));
            }
            let mut out = Vec::new();
            encode(lua, &args[0], 0, &mut out)?;
            lua.create_string(out)
        })?,
    )?;
    cjson.set(
        "decode",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(lua_error(
                    lua,
                    "bad argument #1 to 'decode' (expected 1 argument)",
                ));
            }
            let text = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => format_number(*n as f64).into_bytes(),
                Value::Number(n) => format_number(*n).into_bytes(),
                other => {
                    return Err(lua_error(
                        lua,
                        format!(
                            "bad argument #1 to 'decode' (string expected, got {})",
                            super::vm::type_name(Some(other))
                        ),
                    ))
                }
            };
            let mut parser = Parser {
                lua,
                text: &text,
                at: 0,
                depth: 0,
            };
            let value = parser.value()?;
            parser.skip_space();
            if parser.at < text.len() {
                return Err(parser.expected("the end", "invalid token"));
            }
            Ok(value)
        })?,
    )?;
    cjson.set("null", null())?;
    cjson.set("_NAME", "cjson")?;
    cjson.set("_VERSION", "2.1.0")?;
    Ok(cjson)
}

fn cannot(lua: &Lua, what: &str, reason: &str) -> mlua::Error {
    lua_error(lua, format!("Cannot serialise {what}: {reason}"))
}

fn encode(lua: &Lua, value: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(format_number(*n as f64).as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(cannot(lua, "number", "must not be NaN or Inf"));
            }
            out.extend_from_slice(format_number(*n).as_bytes());
        }
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Table(t) => encode_table(lua, t, depth + 1, out)?,
        other => {
            return Err(cannot(
                lua,
                super::vm::type_name(Some(other)),
                "type not supported",
            ))
        }
    }
    Ok(())
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The array length lua-cjson sees: Some(max index) when every key is a positive integer,
/// None for an object.
fn array_length(lua: &Lua, t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let index = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => f as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        items += 1;
    }
    if max > SPARSE_SAFE && max > items * SPARSE_RATIO {
        return Err(cannot(lua, "table", "excessively sparse array"));
    }
    Ok(Some(max))
}

fn encode_table(lua: &Lua, t: &Table, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if depth > DEPTH_MAX {
        return Err(lua_error(
            lua,
            format!("Cannot serialise, excessive nesting ({depth})"),
        ));
    }
    match array_length(lua, t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                encode(lua, &t.raw_get::<Value>(i)?, depth, out)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => escape(&s.as_bytes(), out),
                    Value::Integer(n) => escape(format_number(*n as f64).as_bytes(), out),
                    Value::Number(n) => escape(format_number(*n).as_bytes(), out),
                    other => {
                        return Err(cannot(
                            lua,
                            super::vm::type_name(Some(other)),
                            "table key must be a number or string",
                        ))
                    }
                }
                out.push(b':');
                encode(lua, &v, depth, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

struct Parser<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expected(&self, what: &str, found: &str) -> mlua::Error {
        lua_error(
            self.lua,
            format!(
                "Expected {what} but found {found} at character {}",
                self.at + 1
            ),
        )
    }

    /// What the next token is, named as lua-cjson names it in errors.
    fn found(&self) -> &'static str {
        match self.text.get(self.at) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(_) if self.text[self.at..].starts_with(b"true") => "T_BOOLEAN",
            Some(_) if self.text[self.at..].starts_with(b"false") => "T_BOOLEAN",
            Some(_) if self.text[self.at..].starts_with(b"null") => "T_NULL",
            Some(_) => "invalid token",
        }
    }

    fn value(&mut self) -> mlua::Result<Value> {
        self.skip_space();
        let lua = self.lua;
        match self.text.get(self.at) {
            Some(b'}' | b']' | b':' | b',') => Err(self.expected("value", self.found())),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(lua.create_string(self.string()?)?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                for (word, value) in [
                    (&b"true"[..], Value::Boolean(true)),
                    (b"false", Value::Boolean(false)),
                    (b"null", null()),
                ] {
                    if self.text[self.at..].starts_with(word) {
                        self.at += word.len();
                        return Ok(value);
                    }
                }
                Err(self.expected("value", self.found()))
            }
            None => Err(self.expected("value", "T_END")),
        }
    }

    fn enter(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(lua_error(
                self.lua,
                format!(
                    "Found too many nested data structures ({}) at character {}",
                    self.depth,
                    self.at + 1
                ),
            ));
        }
        Ok(())
    }

    fn object(&mut self) -> mlua::Result<Value> {
        self.enter()?;
        self.at += 1;
        let t = self.lua.create_table()?;
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.skip_space();
            if self.text.get(self.at) != Some(&b'"') {
                return Err(self.expected("object key string", self.found()));
            }
            let key = self.string()?;
            self.skip_space();
            if self.text.get(self.at) != Some(&b':') {
                return Err(self.expected("colon", self.found()));
            }
            self.at += 1;
            let value = self.value()?;
            t.raw_set(self.lua.create_string(key)?, value)?;
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or object end", self.found())),
            }
        }
    }

    fn array(&mut self) -> mlua::Result<Value> {
        self.enter()?;
        self.at += 1;
        let t = self.lua.create_table()?;
        self.skip_space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let value = self.value()?;
            t.raw_set(i, value)?;
            i += 1;
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or array end", self.found())),
            }
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.at;
        let mut end = start;
        while matches!(
            self.text.get(end),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            end += 1;
        }
        let parsed = std::str::from_utf8(&self.text[start..end])
            .ok()
            .and_then(|s| s.parse::<f64>().ok());
        match parsed {
            Some(n) => {
                self.at = end;
                Ok(Value::Number(n))
            }
            None => Err(self.expected("value", "invalid number")),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.text.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        let start = self.at;
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.text.get(self.at) else {
                return Err(self.expected("value", "unexpected end of string"));
            };
            self.at += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.text.get(self.at) else {
                        return Err(self.expected("value", "unexpected end of string"));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let code = self.unicode_escape(start)?;
                            let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.at = start;
                            return Err(self.expected("value", "invalid escape code"));
                        }
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn unicode_escape(&mut self, start: usize) -> mlua::Result<u32> {
        let invalid = |p: &mut Self| {
            p.at = start;
            Err(p.expected("value", "invalid unicode escape code"))
        };
        let Some(high) = self.hex4(self.at) else {
            return invalid(self);
        };
        self.at += 4;
        if (0xDC00..0xE000).contains(&high) {
            return invalid(self);
        }
        if !(0xD800..0xDC00).contains(&high) {
            return Ok(high);
        }
        if self.text.get(self.at..self.at + 2) != Some(b"\\u") {
            return invalid(self);
        }
        let Some(low) = self.hex4(self.at + 2) else {
            return invalid(self);
        };
        if !(0xDC00..0xE000).contains(&low) {
            return invalid(self);
        }
        self.at += 6;
        Ok(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }
}
