//! Flag values: durations, counts, sizes and rates, each held to a
//! documented range.
//!
//! The bounds keep every value far from where the server's arithmetic
//! could overflow (an `Instant` plus a timeout, byte counts), and a value
//! out of range is a usage error (exit 2) that names the range.

use std::num::NonZeroU32;
use std::time::Duration;

use bytesize::ByteSize;
use sft::net::client::{MAX_LIMIT_RATE, MIN_LIMIT_RATE};
use sft::proto::limiter::Rate;

/// Shortest timeout or rate window any flag takes (1 s): the server tells
/// clients its idle timeout in whole seconds, and a shorter timeout would
/// cut honest connections on any network hiccup.
pub const MIN_DURATION: Duration = Duration::from_secs(1);

/// Longest `--idle-timeout` (24 h): a connection with no byte moving for a
/// day is dead, not slow.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest `--handshake-timeout`, server and client (1 h): a handshake is a
/// few round trips; an hour covers any network that works at all.
pub const MAX_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Longest refill time of `--source-rate` and `--key-rate` (24 h): covers
/// any daily quota.
pub const MAX_RATE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Largest count of `--source-rate` and `--key-rate` (1,000,000): a bucket
/// is a few bytes whatever its size, and the bound keeps its arithmetic far
/// from overflow.
pub const MAX_RATE_COUNT: u32 = 1_000_000;

/// Largest `--max-connections` and `--max-pending-per-source` (4,096): each
/// established session holds a receive buffer of about 512 KiB (a
/// connection still handshaking, 348 bytes), so the cap bounds those near
/// 2 GiB.
pub const MAX_CONNECTIONS: u32 = 4096;

/// Largest `sft serve --threads` (256): one event loop per core is the
/// use; each loop also starts a committer and a hasher thread.
pub const MAX_THREADS: u32 = 256;

/// Shortest `--partial-ttl` (1 min): a client whose connection drops
/// needs some time to come back and resume.
pub const MIN_PARTIAL_TTL: Duration = Duration::from_secs(60);

/// Longest `--partial-ttl` (30 days): a partial holds disk space (up to
/// the file's size) until it expires.
pub const MAX_PARTIAL_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Largest `--max-file-size` (1 PiB, 2^50 bytes): more than one file on
/// any storage sft is likely to serve from, and 2^14 times below where a
/// u64 byte count overflows.
pub const MAX_FILE_SIZE: u64 = 1 << 50;

/// Largest `sft demo --size` (1 GiB): the demo writes the file three times
/// (original, server copy, download) in a temporary directory.
pub const MAX_DEMO_SIZE: u64 = 1 << 30;

/// `--limit-rate`: bytes per second as curl writes them, a whole number
/// with an optional `K`, `M` or `G` (1024-based, either case), from
/// [`MIN_LIMIT_RATE`] to [`MAX_LIMIT_RATE`].
///
/// # Errors
/// A message for clap when `s` is not such a rate or is out of range.
pub fn limit_rate(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&s[..s.len() - 1], 10),
        Some(b'M') => (&s[..s.len() - 1], 20),
        Some(b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = digits
        .parse::<u64>()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{s:?} is not a rate (bytes per second, e.g. 500K, 10M, 1G)"))?;
    n.checked_mul(1 << shift)
        .filter(|r| (MIN_LIMIT_RATE..=MAX_LIMIT_RATE).contains(r))
        .ok_or_else(|| "must be from 1K to 100G bytes per second".to_string())
}

/// `--idle-timeout`: a duration such as `60s`, `1m 30s` or `2h`, from
/// [`MIN_DURATION`] to [`MAX_IDLE_TIMEOUT`].
///
/// # Errors
/// A message for clap when `s` is not a duration or is out of range.
pub fn idle_timeout(s: &str) -> Result<Duration, String> {
    duration(s, MAX_IDLE_TIMEOUT)
}

/// `--handshake-timeout`: a duration from [`MIN_DURATION`] to
/// [`MAX_HANDSHAKE_TIMEOUT`].
///
/// # Errors
/// A message for clap when `s` is not a duration or is out of range.
pub fn handshake_timeout(s: &str) -> Result<Duration, String> {
    duration(s, MAX_HANDSHAKE_TIMEOUT)
}

/// `--partial-ttl`: how long a partial upload is kept after it was last
/// written, a duration from [`MIN_PARTIAL_TTL`] to [`MAX_PARTIAL_TTL`].
///
/// # Errors
/// A message for clap when `s` is not a duration or is out of range.
pub fn partial_ttl(s: &str) -> Result<Duration, String> {
    duration_within(s, MIN_PARTIAL_TTL, MAX_PARTIAL_TTL)
}

/// `--source-rate` and `--key-rate`: `N/DURATION`, e.g. `600/60s` (a
/// burst of N, refilled at N per DURATION); N from 1 to
/// [`MAX_RATE_COUNT`], DURATION from [`MIN_DURATION`] to
/// [`MAX_RATE_WINDOW`].
///
/// # Errors
/// A message for clap naming the part that is malformed or out of range.
pub fn rate(s: &str) -> Result<Rate, String> {
    let (n, per) = s
        .split_once('/')
        .ok_or("expected N/DURATION, e.g. 600/60s")?;
    Ok(Rate {
        burst: count(n, MAX_RATE_COUNT).map_err(|e| format!("count: {e}"))?,
        per: duration(per.trim(), MAX_RATE_WINDOW).map_err(|e| format!("duration: {e}"))?,
    })
}

/// `--max-connections` and `--max-pending-per-source`: a whole number
/// from 1 to [`MAX_CONNECTIONS`].
///
/// # Errors
/// A message for clap when `s` is not such a number.
pub fn connections(s: &str) -> Result<usize, String> {
    count(s, MAX_CONNECTIONS).map(|n| n.get() as usize)
}

/// `sft serve --threads`: a whole number from 1 to [`MAX_THREADS`].
///
/// # Errors
/// A message for clap when `s` is not such a number.
pub fn threads(s: &str) -> Result<usize, String> {
    count(s, MAX_THREADS).map(|n| n.get() as usize)
}

/// `--max-file-size`: bytes, as `10GiB`, `500MB` or `1048576`, from 1 to
/// [`MAX_FILE_SIZE`].
///
/// # Errors
/// A message for clap when `s` is not a size or is out of range.
pub fn max_file_size(s: &str) -> Result<u64, String> {
    size(s, MAX_FILE_SIZE)
}

/// `sft serve --max-mode`: permission bits in octal, `000` to `777`.
///
/// # Errors
/// A message for clap when `s` is not octal digits or is above 777.
pub fn max_mode(s: &str) -> Result<u32, String> {
    let bad =
        || format!("{s:?} is not a permission mode: give octal digits from 000 to 777, e.g. 755");
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    match u32::from_str_radix(s, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(bad()),
    }
}

/// `-P/--port` and a config file's `Port`: a TCP port, 1 to 65535 (0
/// means "any port" to the OS, never a server's).
///
/// # Errors
/// A message naming the range when `s` is not such a number.
pub fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u64>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!(
            "{s:?} is not a port: give a number from 1 to 65535"
        )),
    }
}

/// `sft demo --size`: bytes, from 1 to [`MAX_DEMO_SIZE`].
///
/// # Errors
/// A message for clap when `s` is not a size or is out of range.
pub fn demo_size(s: &str) -> Result<u64, String> {
    size(s, MAX_DEMO_SIZE)
}

/// A duration from [`MIN_DURATION`] to `max`.
fn duration(s: &str, max: Duration) -> Result<Duration, String> {
    duration_within(s, MIN_DURATION, max)
}

/// A duration from `min` to `max`.
fn duration_within(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 60s, 1m 30s, 2h)"))?;
    if d < min || d > max {
        return Err(format!("must be from {} to {}", show(min), show(max)));
    }
    Ok(d)
}

/// A duration bound as people write it: whole days as `30d`, whole hours
/// as `24h`, else as humantime prints it (`1s`, `1m`).
fn show(d: Duration) -> String {
    match d.as_secs() {
        s if s > 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ => humantime::format_duration(d).to_string(),
    }
}

/// A whole number from 1 to `max`.
fn count(s: &str, max: u32) -> Result<NonZeroU32, String> {
    s.trim()
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .filter(|n| n.get() <= max)
        .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
}

/// A byte count from 1 to `max`.
fn size(s: &str, max: u64) -> Result<u64, String> {
    let n = s
        .trim()
        .parse::<ByteSize>()
        .map_err(|_| format!("{s:?} is not a size (examples: 10GiB, 500MB, 1048576)"))?
        .as_u64();
    if n == 0 || n > max {
        return Err(format!(
            "must be from 1 byte to {:.0} ({max} bytes)",
            ByteSize(max)
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_rate_from_1k_to_100g_in_1024_based_units() {
        assert_eq!(limit_rate("1K"), Ok(MIN_LIMIT_RATE));
        assert_eq!(limit_rate("1024"), Ok(1024));
        assert_eq!(limit_rate("500k"), Ok(500 * 1024));
        assert_eq!(limit_rate("10M"), Ok(10 << 20));
        assert_eq!(limit_rate("100G"), Ok(MAX_LIMIT_RATE));
        assert_eq!(limit_rate("102400m"), Ok(MAX_LIMIT_RATE));
        let range = "must be from 1K to 100G bytes per second";
        for past in [
            "1023",
            "0",
            "0K",
            "102401M",
            "107374182401",
            "18446744073709551615G",
        ] {
            assert_eq!(limit_rate(past), Err(range.into()), "{past}");
        }
        for bad in ["", "K", "1.5M", "-1K", "+5K", "10MB", "1T", "fast"] {
            assert!(limit_rate(bad).unwrap_err().contains("not a rate"), "{bad}");
        }
    }

    #[test]
    fn threads_from_one_to_the_limit() {
        assert_eq!(threads("1"), Ok(1));
        assert_eq!(threads("256"), Ok(MAX_THREADS as usize));
        for past in ["257", "0", "-1", "two"] {
            assert_eq!(
                threads(past),
                Err("must be a whole number from 1 to 256".into()),
                "{past}"
            );
        }
    }

    #[test]
    fn idle_timeout_from_one_second_to_a_day() {
        assert_eq!(idle_timeout("1s"), Ok(MIN_DURATION));
        assert_eq!(idle_timeout("24h"), Ok(MAX_IDLE_TIMEOUT));
        for past in ["999ms 999us 999ns", "24h 1ns", "0s"] {
            assert_eq!(
                idle_timeout(past),
                Err("must be from 1s to 24h".into()),
                "{past}"
            );
        }
    }

    #[test]
    fn handshake_timeout_from_one_second_to_an_hour() {
        assert_eq!(handshake_timeout("1s"), Ok(MIN_DURATION));
        assert_eq!(handshake_timeout("1h"), Ok(MAX_HANDSHAKE_TIMEOUT));
        assert_eq!(
            handshake_timeout("1h 1ns"),
            Err("must be from 1s to 1h".into())
        );
        assert!(handshake_timeout("999ms").is_err());
    }

    #[test]
    fn partial_ttl_from_a_minute_to_thirty_days() {
        assert_eq!(partial_ttl("1m"), Ok(MIN_PARTIAL_TTL));
        assert_eq!(partial_ttl("30d"), Ok(MAX_PARTIAL_TTL));
        assert_eq!(partial_ttl("24h"), Ok(Duration::from_secs(86_400)));
        for past in ["59s 999ms 999us 999ns", "30d 1ns", "0s"] {
            assert_eq!(
                partial_ttl(past),
                Err("must be from 1m to 30d".into()),
                "{past}"
            );
        }
        assert!(partial_ttl("a day").unwrap_err().contains("examples"));
    }

    #[test]
    fn durations_that_overflow_or_are_not_durations_are_errors() {
        // The value from issue 7: it parses, and is refused as too long.
        assert_eq!(
            idle_timeout("500000000000years"),
            Err("must be from 1s to 24h".into())
        );
        // Too large even for a Duration.
        assert!(idle_timeout("99999999999999999999years").is_err());
        for bad in ["", "ten", "60", "-1s", "1x"] {
            let e = idle_timeout(bad).unwrap_err();
            assert!(e.contains("examples: 60s"), "{bad}: {e}");
        }
    }

    #[test]
    fn rate_count_from_one_to_max_and_duration_from_a_second_to_a_day() {
        let r = rate("1000000/24h").unwrap();
        assert_eq!(r.burst.get(), MAX_RATE_COUNT);
        assert_eq!(r.per, MAX_RATE_WINDOW);
        let r = rate(" 1 / 1s ").unwrap();
        assert_eq!((r.burst.get(), r.per), (1, MIN_DURATION));
        let count = "count: must be a whole number from 1 to 1000000";
        for (bad, why) in [
            ("1000001/60s", count),
            ("0/60s", count),
            ("4294967296/60s", count),
            ("x/60s", count),
            ("5/24h 1ns", "duration: must be from 1s to 24h"),
            ("5/999ms", "duration: must be from 1s to 24h"),
            ("5", "expected N/DURATION, e.g. 600/60s"),
        ] {
            assert_eq!(rate(bad), Err(why.into()), "{bad}");
        }
    }

    #[test]
    fn connection_counts_from_one_to_max() {
        assert_eq!(connections("1"), Ok(1));
        assert_eq!(connections("4096"), Ok(MAX_CONNECTIONS as usize));
        for bad in ["4097", "0", "-1", "99999999999", "many"] {
            assert_eq!(
                connections(bad),
                Err("must be a whole number from 1 to 4096".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn max_mode_is_octal_up_to_777_and_never_a_special_bit() {
        assert_eq!(max_mode("755"), Ok(0o755));
        assert_eq!(max_mode("0777"), Ok(0o777));
        assert_eq!(max_mode("0"), Ok(0));
        for bad in [
            "1000", "4755", "778", "8", "", "rwx", "-1", "0x1ff", "07777",
        ] {
            assert!(max_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_file_size_from_one_byte_to_a_pebibyte() {
        assert_eq!(max_file_size("1"), Ok(1));
        assert_eq!(max_file_size("1PiB"), Ok(MAX_FILE_SIZE));
        assert_eq!(max_file_size("10GiB"), Ok(10 << 30));
        let range = "must be from 1 byte to 1 PiB (1125899906842624 bytes)";
        // 0.4B rounds down to 0; 16EiB and the long number saturate to
        // u64::MAX in parsing.
        for bad in [
            "1125899906842625",
            "0",
            "0.4B",
            "16EiB",
            "99999999999999999999999B",
        ] {
            assert_eq!(max_file_size(bad), Err(range.into()), "{bad}");
        }
        assert!(max_file_size("10 parsecs")
            .unwrap_err()
            .contains("not a size"));
    }

    #[test]
    fn demo_size_from_one_byte_to_a_gibibyte() {
        assert_eq!(demo_size("1"), Ok(1));
        assert_eq!(demo_size("1GiB"), Ok(MAX_DEMO_SIZE));
        assert_eq!(
            demo_size("1073741825"),
            Err("must be from 1 byte to 1 GiB (1073741824 bytes)".into())
        );
        assert!(demo_size("0").is_err());
    }
}
