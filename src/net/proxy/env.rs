//! The proxy from the environment, as curl reads it: `all_proxy`, then
//! `https_proxy` (lowercase first, then uppercase; an empty value counts
//! as unset), and `no_proxy`/`NO_PROXY` for the servers reached directly.

/// The variables a proxy is taken from, in order; the first set and
/// non-empty wins.
pub const ENV_VARS: [&str; 4] = ["all_proxy", "ALL_PROXY", "https_proxy", "HTTPS_PROXY"];

/// The variables that list servers to reach without a proxy, in order.
pub const NO_PROXY_VARS: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// The first of [`ENV_VARS`] set to a non-empty value, with its name;
/// `get` reads a variable.
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    ENV_VARS
        .iter()
        .find_map(|&var| get(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
}

/// Whether `host` is exempt by a no_proxy list as curl reads it:
/// comma-separated entries, `*` alone exempts every host, an entry
/// matches the host itself or (as a domain, with or without a leading
/// dot) any name under it; IP addresses match exactly. Case-insensitive;
/// a port on an entry is ignored.
pub fn bypassed(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    no_proxy.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry
            .strip_prefix('[')
            .map_or(entry, |e| e.split(']').next().unwrap_or(e));
        let entry = match entry.rsplit_once(':') {
            // host:port, but not a bare IPv6 address.
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => entry,
        };
        let entry = entry
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry
                || host
                    .strip_suffix(&entry)
                    .is_some_and(|head| head.ends_with('.')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_proxy_first_then_https_proxy_lowercase_first_and_empty_is_unset() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(from_env(env(&[])), None);
        assert_eq!(
            from_env(env(&[
                ("HTTPS_PROXY", "http://b:2"),
                ("ALL_PROXY", "socks5://a:1")
            ])),
            Some(("ALL_PROXY", "socks5://a:1".into()))
        );
        assert_eq!(
            from_env(env(&[
                ("ALL_PROXY", "socks5://A:1"),
                ("all_proxy", "socks5://a:1")
            ])),
            Some(("all_proxy", "socks5://a:1".into()))
        );
        assert_eq!(
            from_env(env(&[("all_proxy", ""), ("HTTPS_PROXY", "http://b:2")])),
            Some(("HTTPS_PROXY", "http://b:2".into()))
        );
    }

    #[test]
    fn no_proxy_matches_hosts_domains_and_star_as_curl_does() {
        let list = "localhost, .corp.example,10.1.2.3,files.example:5555,[::1]";
        for host in [
            "localhost",
            "LOCALHOST",
            "a.corp.example",
            "corp.example",
            "10.1.2.3",
            "files.example",
            "x.files.example",
            "::1",
        ] {
            assert!(bypassed(list, host), "{host}");
        }
        for host in [
            "notlocalhost",
            "corp.example.org",
            "xcorp.example",
            "10.1.2.30",
            "::2",
        ] {
            assert!(!bypassed(list, host), "{host}");
        }
        assert!(bypassed("*", "anything"));
        assert!(!bypassed("", "anything"));
        assert!(!bypassed(" , ", "anything"));
        assert!(!bypassed("a*", "ab"));
    }
}
