//! The server a client command names: HOST, HOST:PORT or [IPv6]:PORT,
//! `-P PORT`, and what the config file says about HOST.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use log::info;

use crate::cli::error::{CliError, Exit};

use super::config::{self, HostConfig};
use super::DEFAULT_PORT;

/// Longest host name (or alias) taken, in bytes (255, DNS's bound, RFC
/// 1035 section 2.3.4); also what keeps matching it against the config's
/// Host patterns cheap.
pub(super) const MAX_HOST_LEN: usize = 255;

/// The server argument as typed: a host (or alias) and the port glued to
/// it or given with `-P` (the two must agree).
#[derive(Debug)]
pub(super) struct Typed {
    pub(super) host: String,
    pub(super) port: Option<u16>,
}

impl Typed {
    /// Parses `s` and joins the port of `-P`.
    ///
    /// # Errors
    /// [`Exit::Usage`] when `s` is not HOST, HOST:PORT or [IPv6]:PORT, or
    /// names a port other than `-P`'s.
    pub(super) fn parse(s: &str, port_flag: Option<u16>) -> Result<Typed, CliError> {
        let bad = || {
            CliError::new(
                Exit::Usage,
                format!("{s:?} is not HOST, HOST:PORT or [IPv6]:PORT"),
            )
            .hint(
                "sft takes no user@ and no :path (files are separate arguments); \
                 write IPv6 with a port as [::1]:5555, or give the port with -P",
            )
        };
        if s.contains(['@', '/']) {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None if after.is_empty() => (host, None),
                None => return Err(bad()),
            }
        } else if s.matches(':').count() > 1 {
            (s, None)
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        if host.len() > MAX_HOST_LEN {
            return Err(CliError::new(
                Exit::Usage,
                format!(
                    "a host name is at most {MAX_HOST_LEN} bytes; this one has {}",
                    host.len()
                ),
            ));
        }
        let glued = match port {
            Some(p) => Some(crate::cli::parse::port(p).map_err(|e| bad().context(e))?),
            None => None,
        };
        let port = match (glued, port_flag) {
            (Some(g), Some(f)) if g != f => {
                return Err(CliError::new(
                    Exit::Usage,
                    format!("two ports: {s} says {g}, -P says {f}"),
                )
                .hint("give the port once, either glued to the host or with -P"))
            }
            (g, f) => g.or(f),
        };
        Ok(Typed {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Where to connect, after the config file: the real host and port.
pub(super) struct Target {
    pub(super) host: String,
    pub(super) port: u16,
}

impl Target {
    /// The command line's host and port over the config's `HostName` and
    /// `Port`: the alias typed is looked up, the connection goes to
    /// HostName:Port.
    pub(super) fn new(typed: &Typed, file: &HostConfig) -> Target {
        let host = file.hostname.clone().unwrap_or_else(|| typed.host.clone());
        let port = typed.port.or(file.port).unwrap_or(DEFAULT_PORT);
        Target { host, port }
    }

    /// The known_hosts name: `host:port` of the real host (the HostName,
    /// not the alias, as ssh records it), IPv6 in brackets.
    pub(super) fn known_name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(super) fn resolve(&self) -> Result<SocketAddr, CliError> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| {
                CliError::new(
                    Exit::Connection,
                    format!("cannot resolve {}: {e}", self.host),
                )
            })?
            .next()
            .ok_or_else(|| CliError::new(Exit::Connection, format!("{} has no address", self.host)))
    }
}

/// Reads the config file (`-F`, else `$SFT_HOME/config` if it exists) and
/// returns what it says about `alias`, logging which blocks applied.
///
/// # Errors
/// As [`config::load`].
pub(super) fn host_config(flag: Option<&Path>, alias: &str) -> Result<HostConfig, CliError> {
    let Some(config) = config::load(flag)? else {
        return Ok(HostConfig::default());
    };
    let found = config.for_host(alias);
    if found.applied.is_empty() {
        info!(
            "no Host block of {} matches {alias}",
            config.path().display()
        );
    }
    for block in &found.applied {
        info!("{block} applies to {alias}");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_at_the_length_limit_is_taken_and_one_longer_refused() {
        let at = "a".repeat(MAX_HOST_LEN);
        assert_eq!(Typed::parse(&at, None).unwrap().host, at);
        let past = "a".repeat(MAX_HOST_LEN + 1);
        let e = Typed::parse(&format!("{past}:7"), None).unwrap_err();
        assert!(e.message().contains("at most 255 bytes"), "{e:?}");
    }

    #[test]
    fn the_port_comes_from_the_host_or_dash_p_and_both_must_agree() {
        assert_eq!(Typed::parse("h", None).unwrap().port, None);
        assert_eq!(Typed::parse("h:7", None).unwrap().port, Some(7));
        assert_eq!(Typed::parse("h", Some(8)).unwrap().port, Some(8));
        assert_eq!(Typed::parse("[::1]:9", Some(9)).unwrap().port, Some(9));
        let e = Typed::parse("h:7", Some(8)).unwrap_err();
        assert_eq!(e.exit(), Exit::Usage);
        assert!(e.message().contains("h:7 says 7, -P says 8"), "{e:?}");
    }

    #[test]
    fn a_glued_port_is_1_to_65535() {
        assert_eq!(Typed::parse("h:65535", None).unwrap().port, Some(65535));
        assert_eq!(Typed::parse("h:1", None).unwrap().port, Some(1));
        for bad in ["h:0", "h:65536", "h:", "[::1]:0", "h:x"] {
            let e = Typed::parse(bad, None).unwrap_err();
            assert!(e.message().contains("is not a port"), "{bad}: {e:?}");
        }
        for bad in ["u@h", "h:/x", "", ":5", "[::1", "[::1]x"] {
            assert!(Typed::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_wins_over_the_file_and_known_hosts_names_the_real_host() {
        let file = HostConfig {
            hostname: Some("10.0.0.5".into()),
            port: Some(6000),
            ..HostConfig::default()
        };
        let t = Target::new(&Typed::parse("alias", None).unwrap(), &file);
        assert_eq!(t.known_name(), "10.0.0.5:6000");
        let t = Target::new(&Typed::parse("alias:7000", None).unwrap(), &file);
        assert_eq!(t.known_name(), "10.0.0.5:7000");
        let t = Target::new(
            &Typed::parse("Alias", Some(7001)).unwrap(),
            &HostConfig::default(),
        );
        assert_eq!(t.known_name(), "alias:7001");
        let t = Target::new(
            &Typed::parse("[::1]", None).unwrap(),
            &HostConfig::default(),
        );
        assert_eq!(t.known_name(), format!("[::1]:{DEFAULT_PORT}"));
    }
}
