//! Which proxy a client command uses: `--proxy`, else the environment
//! (`all_proxy`, `ALL_PROXY`, `https_proxy`, `HTTPS_PROXY`), as curl reads
//! them; `--proxy none` (or empty) connects directly whatever the
//! environment says; `no_proxy`/`NO_PROXY` names servers reached directly
//! whichever way the proxy was given. A bad setting is a usage error (exit
//! 2) naming where it came from, before any connection is made.

use log::info;
use sft::net::proxy::{bypassed, from_env, Proxy, ENV_VARS, NO_PROXY_VARS};

use crate::cli::error::{CliError, Exit};

/// A proxy setting given explicitly, and where it came from for messages
/// (`"--proxy"`, or a config file's line): it wins over the environment.
pub(super) struct Given<'a> {
    pub(super) source: &'a str,
    pub(super) url: &'a str,
}

/// The proxy to reach `host` through, if any: `given`, else the
/// environment.
///
/// # Errors
/// [`Exit::Usage`] naming the bad setting (its source, or the variable).
pub(super) fn choose(given: Option<Given<'_>>, host: &str) -> Result<Option<Proxy>, CliError> {
    // A value that is not UTF-8 is refused, never read as unset: that
    // would connect directly past the proxy the user meant.
    let read: &[&str] = if given.is_some() { &[] } else { &ENV_VARS };
    for var in read.iter().chain(&NO_PROXY_VARS) {
        if std::env::var_os(var).is_some_and(|v| v.to_str().is_none()) {
            return Err(CliError::new(
                Exit::Usage,
                format!("bad proxy setting: the {var} variable is not UTF-8 text"),
            ));
        }
    }
    choose_from(given, host, |var| std::env::var(var).ok())
}

fn choose_from(
    given: Option<Given<'_>>,
    host: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, CliError> {
    let (source, url) = match given {
        Some(Given { source, url }) if url.is_empty() || url.eq_ignore_ascii_case("none") => {
            info!("no proxy ({source} {url:?})");
            return Ok(None);
        }
        Some(Given { source, url }) => (source.to_string(), url.to_string()),
        None => match from_env(&env) {
            Some((var, url)) => (format!("the {var} variable"), url),
            None => return Ok(None),
        },
    };
    let proxy = Proxy::parse(&url).map_err(|e| {
        CliError::new(Exit::Usage, format!("bad proxy in {source}: {e}")).hint(
            "write it as socks5://[user:password@]host:port, socks4://[user@]host:port, \
             socks4a://… or http://[user:password@]host:port (percent-encode @ : / in \
             credentials); --proxy none connects directly",
        )
    })?;
    for var in NO_PROXY_VARS {
        if let Some(list) = env(var).filter(|l| !l.is_empty()) {
            if bypassed(&list, host) {
                info!("{host} is in {var}: connecting directly, not through {proxy}");
                return Ok(None);
            }
            break;
        }
    }
    info!("connecting through the proxy {proxy} (from {source})");
    Ok(Some(proxy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(url: &str) -> Option<Given<'_>> {
        Some(Given {
            source: "--proxy",
            url,
        })
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_flag_wins_and_none_or_empty_means_direct() {
        let vars = env(&[("ALL_PROXY", "socks5://env:1")]);
        let p = choose_from(flag("http://flag:2"), "h", &vars)
            .unwrap()
            .unwrap();
        assert_eq!(p.host, "flag");
        for direct in ["none", "NONE", ""] {
            assert!(choose_from(flag(direct), "h", &vars).unwrap().is_none());
        }
        assert_eq!(choose_from(None, "h", &vars).unwrap().unwrap().host, "env");
        assert!(choose_from(None, "h", env(&[])).unwrap().is_none());
    }

    #[test]
    fn no_proxy_exempts_a_server_from_either_source_lowercase_first() {
        let vars = env(&[
            ("ALL_PROXY", "socks5://env:1"),
            ("no_proxy", "files.example"),
            ("NO_PROXY", "*"),
        ]);
        assert!(choose_from(None, "files.example", &vars).unwrap().is_none());
        assert!(choose_from(flag("http://p:1"), "files.example", &vars)
            .unwrap()
            .is_none());
        // no_proxy is set, so NO_PROXY's * is not read.
        assert!(choose_from(None, "other.example", &vars).unwrap().is_some());
    }

    #[test]
    fn a_bad_setting_names_its_source_and_never_the_password() {
        let e = choose_from(flag("socks5://u:hunter2@h:0"), "h", env(&[])).unwrap_err();
        assert_eq!(e.exit(), Exit::Usage);
        assert_eq!(
            e.message(),
            "bad proxy in --proxy: port \"0\" is not a number from 1 to 65535"
        );
        let vars = env(&[("HTTPS_PROXY", "https://u:hunter2@h:1")]);
        let e = choose_from(None, "h", vars).unwrap_err();
        assert_eq!(
            e.message(),
            "bad proxy in the HTTPS_PROXY variable: unknown scheme \"https\" \
             (sft speaks socks5, socks4, socks4a and http)"
        );
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
