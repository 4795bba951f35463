//! A small command-line parser: `--flag value` and bare `--switch`, nothing else. Hand-rolled to
//! keep the benches' build lean; each binary declares its flags in one table and looks values up
//! by name, so an unknown flag or a missing value fails before anything starts.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A flag a binary accepts.
pub struct Flag {
    pub name: &'static str,
    /// Whether the flag takes a value (`--port 6379`) or is a switch (`--smoke`).
    pub takes_value: bool,
    pub help: &'static str,
}

/// A row of a bin's flag table.
pub const fn flag(name: &'static str, takes_value: bool, help: &'static str) -> Flag {
    Flag {
        name,
        takes_value,
        help,
    }
}

/// The two binaries a side-by-side bench runs.
pub const DAMSELFLY_BIN: Flag = flag(
    "damselfly-bin",
    true,
    "damselfly binary (default: target/release/damselfly)",
);
pub const REDIS_BIN: Flag = flag(
    "redis-bin",
    true,
    "redis-server binary (default: redis-server)",
);

pub struct Args {
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
}

impl Args {
    /// Parses `argv` (without the program name) against `flags`.
    pub fn parse(argv: &[String], flags: &[Flag]) -> Result<Args, String> {
        let mut args = Args {
            values: BTreeMap::new(),
            switches: Vec::new(),
        };
        let mut rest = argv.iter();
        while let Some(word) = rest.next() {
            let name = word
                .strip_prefix("--")
                .ok_or(format!("unexpected argument {word:?}"))?;
            let flag = flags
                .iter()
                .find(|f| f.name == name)
                .ok_or(format!("unknown flag --{name} (try --help)"))?;
            if flag.takes_value {
                let value = rest.next().ok_or(format!("--{name} needs a value"))?;
                args.values.insert(flag.name, value.clone());
            } else {
                args.switches.push(flag.name);
            }
        }
        Ok(args)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The flag's value parsed as `T`, or `default` when absent.
    pub fn value<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {text:?}")),
            None => Ok(default),
        }
    }
}

/// `--help` text from the flag table.
pub fn usage(program: &str, about: &str, flags: &[Flag]) -> String {
    let mut text = format!("{program}: {about}\n\nFlags:\n");
    for flag in flags {
        let value = if flag.takes_value { " <value>" } else { "" };
        text.push_str(&format!("  --{}{value}\n      {}\n", flag.name, flag.help));
    }
    text
}

/// `"1:10"` as (1, 10).
pub fn parse_ratio(text: &str) -> Result<(u32, u32), String> {
    let (set, get) = text
        .split_once(':')
        .ok_or(format!("ratio {text:?} is not SET:GET"))?;
    let set = set
        .parse()
        .map_err(|_| format!("ratio {text:?}: bad SET part"))?;
    let get = get
        .parse()
        .map_err(|_| format!("ratio {text:?}: bad GET part"))?;
    Ok((set, get))
}

/// Splits extra server arguments on whitespace (no quoting: pass one flag per word).
pub fn split_words(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag {
            name: "port",
            takes_value: true,
            help: "",
        },
        Flag {
            name: "smoke",
            takes_value: false,
            help: "",
        },
    ];

    fn words(text: &str) -> Vec<String> {
        split_words(Some(text))
    }

    #[test]
    fn values_and_switches() {
        let args = Args::parse(&words("--port 7000 --smoke"), FLAGS).unwrap();
        assert_eq!(args.value("port", 0u16), Ok(7000));
        assert!(args.switch("smoke"));
        assert_eq!(Args::parse(&[], FLAGS).unwrap().value("port", 1u16), Ok(1));
    }

    #[test]
    fn errors() {
        assert!(Args::parse(&words("--nope 1"), FLAGS).is_err());
        assert!(Args::parse(&words("--port"), FLAGS).is_err());
        assert!(Args::parse(&words("port"), FLAGS).is_err());
        let args = Args::parse(&words("--port x"), FLAGS).unwrap();
        assert!(args.value("port", 0u16).is_err());
    }

    #[test]
    fn ratio() {
        assert_eq!(parse_ratio("1:10"), Ok((1, 10)));
        assert!(parse_ratio("1-10").is_err());
    }
}
