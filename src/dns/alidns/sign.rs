//! ACS3-HMAC-SHA256, the request signature of Alibaba Cloud's current
//! (V3) API requests, as a pure function: the caller passes the query, the
//! headers it will send (with `x-acs-date` from its `Clock` and a fresh
//! nonce) and the body's hash; nothing here reads the time, the
//! environment or the network.
//!
//! The steps follow "V3 request structure and signature"
//! (<https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>)
//! and the official SDK (`alibabacloud_tea_openapi` `utils.py`:
//! `get_authorization`, `get_canonical_query_string`,
//! `get_canonicalized_headers`):
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HexSha256(body)
//! StringToSign     = "ACS3-HMAC-SHA256" \n HexSha256(CanonicalRequest)
//! Signature        = hex(HMAC-SHA256(key = AccessKeySecret, StringToSign))
//! ```
//!
//! Unlike TC3 there is no derived key chain, and unlike the older RPC
//! signature no `&` is appended to the secret. Every vector of
//! `tests/fixtures/alidns/vectors.txt` (computed by the official SDK; the
//! RPC HMAC-SHA1 ones for the percent-encoding they share) is a unit test
//! below.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name, first word of `Authorization` and of the string to sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Hex SHA-256 of the empty body: `x-acs-content-sha256` of every call we make.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What is signed of one HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `POST` (what we send).
    pub method: &'a str,
    /// The path, `/`.
    pub uri: &'a str,
    /// Query parameters, decoded, any order.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign, as sent (any case, any order).
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body (the value of `x-acs-content-sha256`).
    pub payload_hash: &'a str,
}

/// Every intermediate value, so tests can compare them step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    /// e.g. `host;x-acs-action;...`.
    pub signed_headers: String,
    pub string_to_sign: String,
    /// Lowercase hex.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

/// RFC 3986 percent-encoding as Alibaba Cloud uses it: only `A-Z a-z 0-9
/// - _ . ~` stay; every other UTF-8 byte becomes `%XY` (upper-case hex), so
///   a space is `%20` (never `+`) and `*` is `%2A`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `name=value` pairs, both encoded, sorted by encoded name (then value),
/// joined by `&`; an empty value gives `name=`. This is the canonical query
/// string of V3 and the canonicalized query of the RPC signature; we also
/// send it as the query string, so what is signed is what is sent.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The RPC (HMAC-SHA1) string to sign, `METHOD&%2F&pct(canonical query)`.
/// We do not sign RPC requests; this pins [`percent_encode`] and
/// [`canonical_query`] against the SDK's RPC vectors, which exercise the
/// encoding twice over.
pub fn rpc_string_to_sign(method: &str, params: &[(&str, &str)]) -> String {
    format!("{method}&%2F&{}", percent_encode(&canonical_query(params)))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Sign `req` with `access_key_id` / `access_key_secret`.
pub fn sign(req: &Request<'_>, access_key_id: &str, access_key_secret: &str) -> Signed {
    // Lower-case names, trimmed values, sorted by name.
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.uri,
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let string_to_sign = format!("{ALGORITHM}\n{hashed_canonical_request}");
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(access_key_secret.as_bytes())
        .expect("HMAC takes keys of any size");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Signed {
        canonical_request,
        hashed_canonical_request,
        signed_headers,
        string_to_sign,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One vector of `vectors.txt`: its fields, repeated ones in order.
    #[derive(Debug, Default)]
    struct Vector {
        id: String,
        fields: Vec<(String, String)>,
    }

    impl Vector {
        fn one(&self, k: &str) -> Option<&str> {
            self.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        }
        fn get(&self, k: &str) -> &str {
            self.one(k).unwrap_or_else(|| panic!("{}: no {k}", self.id))
        }
        /// `name=value` (or `name:value`) fields split at the first `sep`.
        fn pairs(&self, k: &str, sep: char) -> Vec<(&str, &str)> {
            self.fields
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.split_once(sep).expect("name and value"))
                .collect()
        }
    }

    fn vectors() -> Vec<Vector> {
        let text = include_str!("../../../tests/fixtures/alidns/vectors.txt");
        let mut out: Vec<Vector> = Vec::new();
        for line in text.lines() {
            if let Some(head) = line.strip_prefix("## ") {
                let id = head.split_whitespace().next().unwrap_or_default();
                out.push(Vector {
                    id: id.to_string(),
                    ..Vector::default()
                });
            } else if line.is_empty() || line.starts_with('#') {
                continue;
            } else if let Some((k, v)) = line.split_once(": ") {
                out.last_mut()
                    .expect("a field after a vector heading")
                    .fields
                    .push((k.to_string(), v.to_string()));
            }
        }
        out
    }

    #[test]
    fn every_vector_of_the_official_sdk_is_reproduced() {
        let all = vectors();
        let ids: Vec<&str> = all.iter().map(|v| v.id.as_str()).collect();
        // The file as shipped: 2 published, 4 RPC, 8 V3, 1 legacy.
        assert_eq!(
            ids,
            [
                "A1", "A2", "B1", "B2", "B3", "B4", "C1", "C1-min", "C2", "C2-min", "C3", "C3-min",
                "C4", "C4-min", "D1"
            ]
        );
        let (mut v3, mut rpc) = (0, 0);
        for v in &all {
            match v.get("algorithm") {
                "ACS3-HMAC-SHA256" => {
                    v3 += 1;
                    let query = v.pairs("query", '=');
                    let headers = v.pairs("header", ':');
                    let payload_hash = headers
                        .iter()
                        .find(|(k, _)| *k == "x-acs-content-sha256")
                        .map(|(_, h)| *h)
                        .unwrap();
                    assert_eq!(payload_hash, EMPTY_SHA256, "{}", v.id);
                    let s = sign(
                        &Request {
                            method: v.get("method"),
                            uri: "/",
                            query: &query,
                            headers: &headers,
                            payload_hash,
                        },
                        v.get("access_key_id"),
                        v.get("access_key_secret"),
                    );
                    if let Some(c) = v.one("canonical_request_escaped") {
                        assert_eq!(s.canonical_request, c.replace("\\n", "\n"), "{}", v.id);
                    }
                    assert_eq!(
                        s.hashed_canonical_request,
                        v.get("hashed_canonical_request"),
                        "{}",
                        v.id
                    );
                    assert_eq!(s.signed_headers, v.get("signed_headers"), "{}", v.id);
                    assert_eq!(s.signature, v.get("signature"), "{}", v.id);
                    if let Some(a) = v.one("authorization") {
                        assert_eq!(s.authorization, a, "{}", v.id);
                    }
                }
                "RPC-HMAC-SHA1" => {
                    rpc += 1;
                    let params = v.pairs("param", '=');
                    assert_eq!(
                        rpc_string_to_sign(v.get("method"), &params),
                        v.get("string_to_sign"),
                        "{}",
                        v.id
                    );
                }
                other => panic!("{}: unknown algorithm {other}", v.id),
            }
        }
        assert_eq!((v3, rpc), (8, 7));
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("v=1 a*b~c+d/e=f 故"),
            "v%3D1%20a%2Ab~c%2Bd%2Fe%3Df%20%E6%95%85"
        );
        assert_eq!(canonical_query(&[("b", ""), ("a", "x y")]), "a=x%20y&b=");
    }

    #[test]
    fn a_wrong_secret_or_an_extra_header_changes_the_signature() {
        let q = [("RecordId", "1")];
        let h = [("host", "alidns.aliyuncs.com"), ("x-acs-action", "X")];
        let req = Request {
            method: "POST",
            uri: "/",
            query: &q,
            headers: &h,
            payload_hash: EMPTY_SHA256,
        };
        let a = sign(&req, "id", "secret");
        assert_ne!(a.signature, sign(&req, "id", "secret2").signature);
        let h2 = [h[0], h[1], ("x-acs-date", "2026-01-15T08:30:00Z")];
        assert_ne!(
            a.signature,
            sign(
                &Request {
                    headers: &h2,
                    ..req
                },
                "id",
                "secret"
            )
            .signature
        );
    }
}
