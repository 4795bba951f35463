//! Functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL and what FCALL finds.
//!
//! A library is its code; everything else (its name, its functions and their flags) is read
//! from the code, so the code is what threads share. Each thread keeps the same `Libraries`
//! (a change is made on one thread, then sent whole to every other, and the client is answered
//! once all acknowledged, as SCRIPT LOAD is), and its own Lua state for functions, separate
//! from EVAL's as in Redis (SCRIPT FLUSH leaves functions alone). A thread's state catches up
//! with its `Libraries` before a call: libraries are loaded by identity (`Library::id`, unique
//! across threads), so one library changing leaves the others' Lua state (their upvalues) as
//! it was.

use std::collections::BTreeMap;

use crate::reply::Reply;

/// The function flags Redis 7.0 knows, in the order FUNCTION LIST prints them.
pub const FUNCTION_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// One function of a library, as `redis.register_function` declared it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<Vec<u8>>,
    /// Indexes into `FUNCTION_FLAGS`, ascending.
    pub flags: Vec<usize>,
}

impl FunctionMeta {
    pub fn may_write(&self) -> bool {
        !self.flags.contains(&0)
    }
}

#[derive(Clone, Debug)]
pub struct Library {
    pub name: String,
    /// The whole code, shebang included (FUNCTION LIST WITHCODE, DUMP).
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
    /// Which load made it: a thread's Lua state reloads a library whose id it has not loaded.
    pub id: u64,
}

impl Library {
    /// The code after the shebang line, newline included, so line numbers count the shebang.
    pub fn body(&self) -> &[u8] {
        let at = self.code.iter().position(|&b| b == b'\n').unwrap_or(0);
        &self.code[at..]
    }
}

/// Every library of the node, the same on every thread.
#[derive(Clone, Debug, Default)]
pub struct Libraries {
    /// By name (case-sensitive, as Redis's library names).
    by_name: BTreeMap<String, Library>,
    /// Function names, lowercased (Redis matches them ignoring case), to their library.
    functions: BTreeMap<String, String>,
}

impl Libraries {
    pub fn get(&self, name: &str) -> Option<&Library> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// The function FCALL names (ignoring case).
    pub fn function(&self, name: &[u8]) -> Option<&FunctionMeta> {
        let key = String::from_utf8_lossy(name).to_lowercase();
        let lib = self.by_name.get(self.functions.get(&key)?)?;
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))
    }

    /// The library holding a function of this name (ignoring case), if any.
    pub fn owner_of(&self, function: &str) -> Option<&str> {
        self.functions
            .get(&function.to_lowercase())
            .map(String::as_str)
    }

    pub fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.by_name.remove(name)?;
        for f in &lib.functions {
            self.functions.remove(&f.name.to_lowercase());
        }
        Some(lib)
    }

    /// Adds a library whose names the caller checked are free.
    pub fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            // Two names of one library that differ only in case: the first answers FCALL,
            // as Redis's node-wide dict keeps the first.
            let owner = self.functions.entry(f.name.to_lowercase());
            let owner = owner.or_insert_with(|| lib.name.clone());
            assert_eq!(*owner, lib.name, "function {} in two libraries", f.name);
        }
        let previous = self.by_name.insert(lib.name.clone(), lib);
        assert!(previous.is_none(), "library registered twice");
    }
}

/// What a library's shebang says: its name (the engine must be Lua).
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let Some(parts) = split_args(&code[..end]).filter(|p| !p.is_empty()) else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let engine = &parts[0][2..];
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err(NAME_RULE.into());
    }
    Ok(String::from_utf8(name).expect("checked ASCII"))
}

/// Redis's text for a bad library or function name (it says "Library" for both).
pub const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or \
                             underscores(_) and must be at least one character long";

/// Letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// redis-cli's and Redis's argument splitting (`sdssplitargs`): blanks separate, `"..."` with
/// escapes and `'...'` literally; None for an unbalanced quote or a quote not followed by a
/// blank.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut parts = Vec::new();
    let mut at = 0;
    loop {
        while at < line.len() && is_blank(line[at]) {
            at += 1;
        }
        if at == line.len() {
            return Some(parts);
        }
        let mut part = Vec::new();
        loop {
            match line.get(at) {
                None => break,
                Some(&b) if is_blank(b) => break,
                Some(b'"') => at = double_quoted(line, at + 1, &mut part)?,
                Some(b'\'') => at = single_quoted(line, at + 1, &mut part)?,
                Some(&b) => {
                    part.push(b);
                    at += 1;
                }
            }
        }
        parts.push(part);
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

/// Reads to the closing quote; the index after it, which must end the part.
fn double_quoted(line: &[u8], mut at: usize, part: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(at)? {
            b'"' => {
                let next = line.get(at + 1);
                return (next.is_none() || next.is_some_and(|&b| is_blank(b))).then_some(at + 1);
            }
            b'\\'
                if at + 3 < line.len()
                    && line[at + 1] == b'x'
                    && line[at + 2].is_ascii_hexdigit()
                    && line[at + 3].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&line[at + 2..at + 4]).expect("hex digits");
                part.push(u8::from_str_radix(hex, 16).expect("hex digits"));
                at += 4;
            }
            b'\\' if at + 1 < line.len() => {
                part.push(match line[at + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                at += 2;
            }
            b => {
                part.push(b);
                at += 1;
            }
        }
    }
}

fn single_quoted(line: &[u8], mut at: usize, part: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *line.get(at)? {
            b'\\' if line.get(at + 1) == Some(&b'\'') => {
                part.push(b'\'');
                at += 2;
            }
            b'\'' => {
                let next = line.get(at + 1);
                return (next.is_none() || next.is_some_and(|&b| is_blank(b))).then_some(at + 1);
            }
            b => {
                part.push(b);
                at += 1;
            }
        }
    }
}

/// How FUNCTION RESTORE treats libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop them all first.
    Flush,
    /// Keep them; a name in both refuses the restore (the default).
    Append,
    /// Keep them, but a restored library replaces one of the same name.
    Replace,
}

/// Joins `incoming` (already checked among themselves) into `libs` under `policy`: the new
/// set, or Redis's error (nothing changes then).
pub fn join(
    libs: &Libraries,
    incoming: Vec<Library>,
    policy: RestorePolicy,
) -> Result<Libraries, String> {
    let mut joined = match policy {
        RestorePolicy::Flush => Libraries::default(),
        RestorePolicy::Append | RestorePolicy::Replace => libs.clone(),
    };
    for lib in &incoming {
        if joined.get(&lib.name).is_some() {
            if policy == RestorePolicy::Append {
                return Err(format!("ERR Library {} already exists", lib.name));
            }
            joined.remove(&lib.name);
        }
    }
    for lib in &incoming {
        if let Some(f) = lib
            .functions
            .iter()
            .find(|f| joined.owner_of(&f.name).is_some())
        {
            return Err(format!("ERR Function {} already exists", f.name));
        }
    }
    for lib in incoming {
        joined.insert(lib);
    }
    Ok(joined)
}

/// FUNCTION LIST's filter and detail.
#[derive(Debug, Default)]
pub struct ListArgs {
    pub pattern: Option<Vec<u8>>,
    pub with_code: bool,
}

pub fn parse_list(args: &[&[u8]]) -> Result<ListArgs, String> {
    let mut list = ListArgs::default();
    let mut at = 0;
    while at < args.len() {
        let arg = args[at];
        if arg.eq_ignore_ascii_case(b"withcode") && !list.with_code {
            list.with_code = true;
        } else if arg.eq_ignore_ascii_case(b"libraryname") && list.pattern.is_none() {
            let Some(pattern) = args.get(at + 1) else {
                return Err("ERR library name argument was not given".into());
            };
            list.pattern = Some(pattern.to_vec());
            at += 1;
        } else {
            return Err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        at += 1;
    }
    Ok(list)
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(text.as_bytes().to_vec())
}

/// FUNCTION LIST's reply: one map per library whose name matches the pattern (ignoring case).
pub fn list_reply(libs: &Libraries, args: &ListArgs) -> Reply {
    let matches = |lib: &&Library| {
        args.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::glob_match(p, lib.name.as_bytes(), true))
    };
    let libraries = libs.iter().filter(matches).map(|lib| {
        let functions = lib.functions.iter().map(|f| {
            let flags = f
                .flags
                .iter()
                .map(|&i| Reply::Simple(FUNCTION_FLAGS[i].into()));
            Reply::Map(vec![
                (bulk("name"), bulk(&f.name)),
                (
                    bulk("description"),
                    f.description.clone().map_or(Reply::Nil, Reply::Bulk),
                ),
                (bulk("flags"), Reply::Set(flags.collect())),
            ])
        });
        let mut fields = vec![
            (bulk("library_name"), bulk(&lib.name)),
            (bulk("engine"), bulk("LUA")),
            (bulk("functions"), Reply::Array(functions.collect())),
        ];
        if args.with_code {
            fields.push((bulk("library_code"), Reply::Bulk(lib.code.clone())));
        }
        Reply::Map(fields)
    });
    Reply::Array(libraries.collect())
}

/// FUNCTION STATS: no script ever runs while another command is answered here.
pub fn stats_reply(libs: &Libraries) -> Reply {
    let lua = Reply::Map(vec![
        (bulk("libraries_count"), Reply::Int(libs.len() as i64)),
        (
            bulk("functions_count"),
            Reply::Int(libs.function_count() as i64),
        ),
    ]);
    Reply::Map(vec![
        (bulk("running_script"), Reply::Nil),
        (bulk("engines"), Reply::Map(vec![(bulk("LUA"), lua)])),
    ])
}

/// FUNCTION HELP's lines, word for word as Redis 7.0.15 prints them.
pub const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME \
     argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored \
     using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a \
     restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, \
     abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, \
     replace the old",
    "      libraries with the new libraries (notice that even on this option there is a \
     chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_names_the_library_as_redis_reads_it() {
        let name = |s: &str| library_name(format!("{s}\nx").as_bytes());
        assert_eq!(name("#!lua name=lib").unwrap(), "lib");
        assert_eq!(name("#!LUA  NAME=up").unwrap(), "up");
        assert_eq!(name("#!lua \"name=q\"").unwrap(), "q");
        assert_eq!(name("#!lua name=z\r").unwrap(), "z");
        assert_eq!(name("#!lua name=a-b").unwrap_err(), NAME_RULE);
        assert_eq!(name("#!lua name=").unwrap_err(), NAME_RULE);
        assert_eq!(
            name("#!lua name").unwrap_err(),
            "ERR Invalid metadata value given: name"
        );
        assert_eq!(name("#! name=x").unwrap_err(), "ERR Engine '' not found");
        assert_eq!(name("#!lua").unwrap_err(), "ERR Library name was not given");
        assert_eq!(
            library_name(b"#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            library_name(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
    }

    #[test]
    fn list_arguments_parse_once_each() {
        let parsed = parse_list(&[b"WITHCODE", b"libraryname", b"a*"]).unwrap();
        assert!(parsed.with_code);
        assert_eq!(parsed.pattern.as_deref(), Some(&b"a*"[..]));
        assert_eq!(
            parse_list(&[b"withcode", b"withcode"]).unwrap_err(),
            "ERR Unknown argument withcode"
        );
        assert_eq!(
            parse_list(&[b"libraryname"]).unwrap_err(),
            "ERR library name argument was not given"
        );
    }

    fn lib(name: &str, functions: &[&str], id: u64) -> Library {
        Library {
            name: name.into(),
            code: Vec::new(),
            functions: functions
                .iter()
                .map(|f| FunctionMeta {
                    name: (*f).into(),
                    description: None,
                    flags: Vec::new(),
                })
                .collect(),
            id,
        }
    }

    #[test]
    fn restore_policies_join_as_redis_joins() {
        let mut libs = Libraries::default();
        libs.insert(lib("a", &["fa"], 1));
        let append = join(&libs, vec![lib("a", &["fa"], 2)], RestorePolicy::Append);
        assert_eq!(append.unwrap_err(), "ERR Library a already exists");
        let replaced = join(&libs, vec![lib("a", &["fb"], 2)], RestorePolicy::Replace).unwrap();
        assert!(replaced.function(b"FB").is_some() && replaced.function(b"fa").is_none());
        let clash = join(&libs, vec![lib("b", &["FA"], 2)], RestorePolicy::Replace);
        assert_eq!(clash.unwrap_err(), "ERR Function FA already exists");
        let flushed = join(&libs, vec![lib("b", &["fa"], 2)], RestorePolicy::Flush).unwrap();
        assert_eq!(flushed.len(), 1);
        assert!(flushed.get("a").is_none());
    }

    #[test]
    fn liblzf_port_gives_redis_payload_bytes() {
        // FUNCTION DUMP of this library from redis-server 7.0.15, captured from the wire.
        let code: &[u8] = b"#!lua name=mylib\nredis.register_function('f1', function(keys, \
            args) return {keys[1], args[1]} end)\nredis.register_function('f2', function(keys, \
            args) return {keys[1], args[1]} end)";
        let redis = "f5c3406540b41f23216c7561206e616d653d6d796c69620a72656469732e7265676973746572\
            5f0e66756e6374696f6e28276631272c20e0000e136b6579732c2061726773292072657475726e207b\
            4013025b315d80162008057d20656e6429e012510032e02b510164290a006281e3af545e49bd";
        let payload = crate::rdb::functions_payload(&[code]);
        let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, redis);
        let codes = crate::rdb::parse_functions_payload(&payload).unwrap();
        assert_eq!(codes, vec![code.to_vec()]);
    }
}
