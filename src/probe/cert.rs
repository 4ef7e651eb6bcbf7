//! The peer certificate's expiry (`notAfter`), read from its DER.
//!
//! Only the path to `tbsCertificate.validity.notAfter` is walked (RFC 5280
//! section 4.1); the certificate was already verified by rustls, so this is
//! a reader, not a validator. Anything unexpected gives `None`.

use chrono::{DateTime, NaiveDate, Utc};

/// `notAfter` of a DER certificate.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (0x30, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let (tag, _, after) = tlv(tbs)?;
    // `version` is an optional [0] before the serial number.
    let rest = if tag == 0xa0 { after } else { tbs };
    let (_, _, rest) = tlv(rest)?; // serialNumber
    let (_, _, rest) = tlv(rest)?; // signature
    let (_, _, rest) = tlv(rest)?; // issuer
    let (0x30, validity, _) = tlv(rest)? else {
        return None;
    };
    let (_, _, rest) = tlv(validity)?; // notBefore
    let (tag, t, _) = tlv(rest)?;
    time(tag, t)
}

/// One DER element: (tag, contents, what follows).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, &x| a << 8 | x as usize);
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`, 1950-2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), the two forms RFC 5280 allows.
fn time(tag: u8, t: &[u8]) -> Option<DateTime<Utc>> {
    let s = std::str::from_utf8(t).ok()?.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy = num(0..2)? as i32;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)? as i32, 4),
        _ => return None,
    };
    let n = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    NaiveDate::from_ymd_opt(year, n(0)?, n(1)?)?
        .and_hms_opt(n(2)?, n(3)?, n(4)?)
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_not_after_of_the_test_certificate() {
        let der = include_bytes!("../../tests/fixtures/tls-cert.der");
        // openssl x509 -noout -enddate: notAfter=Oct 29 18:28:21 2126 GMT
        assert_eq!(
            not_after(der).unwrap().to_rfc3339(),
            "2126-10-29T18:28:21+00:00"
        );
    }

    #[test]
    fn both_time_forms_parse_and_garbage_does_not() {
        let t = |tag, s: &str| time(tag, s.as_bytes()).map(|d| d.to_rfc3339());
        assert_eq!(
            t(0x17, "491231235959Z").unwrap(),
            "2049-12-31T23:59:59+00:00"
        );
        assert_eq!(
            t(0x17, "500101000000Z").unwrap(),
            "1950-01-01T00:00:00+00:00"
        );
        assert_eq!(
            t(0x18, "20261205093500Z").unwrap(),
            "2026-12-05T09:35:00+00:00"
        );
        assert_eq!(t(0x18, "2026120509350Z"), None);
        assert_eq!(t(0x17, "4912312359+9Z"), None);
        assert_eq!(not_after(b"\x30\x03\x30\x01"), None);
        assert_eq!(not_after(b""), None);
    }
}
