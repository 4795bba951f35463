//! What every load binary needs to talk RESP by hand: a command encoded as a RESP array, and
//! a `--flag value` looked up with a default.

/// Appends `args` as one RESP array of bulk strings.
pub fn encode_into(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// `encode_into` for an owned argument vector.
pub fn encode_argv_into(argv: &[Vec<u8>], out: &mut Vec<u8>) {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    encode_into(&args, out);
}

/// `args` as one RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(args, &mut out);
    out
}

/// The value after `name` in `args`, else `default`.
pub fn flag_value(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_resp_arrays_and_flags_fall_back() {
        assert_eq!(encode(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        let args = vec!["--n".to_string(), "5".to_string()];
        assert_eq!(flag_value(&args, "--n", "1"), "5");
        assert_eq!(flag_value(&args, "--m", "1"), "1");
    }
}
