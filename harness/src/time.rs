//! Capture timestamps and their RFC 3339 form.

/// A packet's capture time: seconds since the Unix epoch and nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// Seconds since the epoch as a number, microsecond precision.
    pub fn epoch(&self) -> f64 {
        self.secs as f64 + f64::from(self.nanos / 1000) / 1e6
    }

    /// `2009-10-05T06:06:07.123456Z` (UTC, microseconds).
    pub fn rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let of_day = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60,
            self.nanos / 1000
        )
    }
}

/// (year, month, day) of the proleptic Gregorian calendar for days since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        let t = |secs, nanos| Timestamp { secs, nanos }.rfc3339();
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(t(1_254_722_767, 123_456_789), "2009-10-05T06:06:07.123456Z");
        assert_eq!(t(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(t(-1, 0), "1969-12-31T23:59:59.000000Z");
        assert_eq!(t(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z");
    }
}
