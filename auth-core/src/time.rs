//! The clock: seconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before 1970).
///
/// ```
/// assert!(auth_core::now() > 1_600_000_000);
/// ```
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses a lifetime like `2s`, `15m`, `1h` or `5d` (a bare number is
/// seconds; `ms` is milliseconds, for timeouts).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(auth_core::parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(auth_core::parse_duration("15m"), Some(Duration::from_secs(900)));
/// assert_eq!(auth_core::parse_duration("5d"), Some(Duration::from_secs(432_000)));
/// assert_eq!(auth_core::parse_duration("soon"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    if unit == "ms" {
        return Some(std::time::Duration::from_millis(n));
    }
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor).map(std::time::Duration::from_secs)
}

/// Whole seconds of `d`, saturating.
pub(crate) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
