//! Certificate dates from the system clock, with a floor: a router that has not yet reached
//! NTP may think it is 1970, and leaves dated then would look expired to the phone, which
//! would then look like certificate pinning.

/// 2026-01-01, in days since the Unix epoch: no certificate is dated before it.
const FLOOR_DAYS: i64 = 20_454;

/// Today, in days since the Unix epoch, never before [`FLOOR_DAYS`].
pub(crate) fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    i64::try_from(secs / 86_400)
        .unwrap_or(FLOOR_DAYS)
        .max(FLOOR_DAYS)
}

/// Year, month and day of a day number (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Certificates are dated within a few years of now, so the narrowing cannot truncate.
    (
        i32::try_from(year).unwrap_or(i32::MAX),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// Sets a certificate's validity to the days `from` to `to` (day numbers, midnight UTC).
pub(crate) fn set_validity(params: &mut rcgen::CertificateParams, from: i64, to: i64) {
    let (y, m, d) = civil(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil(to);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_become_calendar_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(11_017), (2000, 3, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(civil(FLOOR_DAYS), (2026, 1, 1));
    }

    #[test]
    fn today_is_never_before_the_floor() {
        assert!(today() >= FLOOR_DAYS);
    }
}
