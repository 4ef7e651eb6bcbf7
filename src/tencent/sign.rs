//! TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0, as a pure
//! function: the caller passes the timestamp (from its `Clock`), the headers
//! it will send and the exact body bytes; nothing here reads the time, the
//! environment or the network.
//!
//! The steps follow Tencent's "Signature v3" page
//! (<https://www.tencentcloud.com/document/api/614/42761>, Chinese original
//! "签名方法 v3" <https://cloud.tencent.com/document/api/213/30654>) and the
//! official SDK (`tencentcloud/common/sign.py`, `abstract_client.py`). Every
//! vector in `shared/reference/tc3-vectors.txt` (made with that SDK) is a
//! unit test below.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name, first word of the `Authorization` header and of the
/// string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// What is signed of one HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `POST` (what we send) or `GET`.
    pub method: &'a str,
    /// Always `/` for API 3.0.
    pub uri: &'a str,
    /// The query string exactly as sent; empty for POST.
    pub query: &'a str,
    /// The headers to sign, as sent (any case, any order). The SDK signs
    /// `content-type` and `host`; the value signed must be byte-identical to
    /// the one on the wire.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub payload: &'a [u8],
}

/// Every intermediate value, so tests (and a curious operator) can compare
/// them with Tencent's documentation step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    /// `<date>/<service>/tc3_request`.
    pub credential_scope: String,
    /// e.g. `content-type;host`.
    pub signed_headers: String,
    pub string_to_sign: String,
    /// Lowercase hex.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp. The doc insists on UTC:
/// using Beijing time breaks requests made between 00:00 and 08:00 UTC+8.
pub fn utc_date(timestamp: i64) -> String {
    DateTime::<Utc>::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Sign `req` for `service` (the host prefix: `dnspod`, `sms`, `cvm`) at
/// `timestamp` (Unix seconds, the value sent as `X-TC-Timestamp`).
pub fn sign(
    req: &Request<'_>,
    service: &str,
    secret_id: &str,
    secret_key: &str,
    timestamp: i64,
) -> Signed {
    // Step 1: the canonical request, six parts joined by "\n":
    //   HTTPRequestMethod, CanonicalURI, CanonicalQueryString,
    //   CanonicalHeaders, SignedHeaders, HashedRequestPayload.
    // CanonicalHeaders is "name:value\n" per signed header with name and
    // value lower-cased and trimmed, sorted by name; its own trailing "\n"
    // plus the join separator leave an empty line before SignedHeaders.
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
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
        req.query,
        canonical_headers,
        signed_headers,
        sha256_hex(req.payload)
    );

    // Step 2: the string to sign:
    //   Algorithm \n RequestTimestamp \n CredentialScope \n hex(SHA256(CanonicalRequest)).
    let date = utc_date(timestamp);
    let credential_scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );

    // Step 3: derive the signing key (raw bytes at every step) and sign:
    //   SecretDate = HMAC("TC3" + SecretKey, Date)
    //   SecretService = HMAC(SecretDate, Service)
    //   SecretSigning = HMAC(SecretService, "tc3_request")
    //   Signature = hex(HMAC(SecretSigning, StringToSign))
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));

    // Step 4: the Authorization header.
    let authorization = format!(
        "{ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    Signed {
        canonical_request,
        credential_scope,
        signed_headers,
        string_to_sign,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    //! The vectors of `shared/reference/tc3-vectors.txt`, byte for byte.
    use super::*;

    const ID: &str = "AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234";
    const KEY: &str = "EXAMPLEsecretKEYexampleSECRETkey";
    const DNSPOD: &str = "dnspod.tencentcloudapi.com";
    const SMS: &str = "sms.tencentcloudapi.com";

    struct Vector<'a> {
        id: &'a str,
        key: &'a str,
        ts: i64,
        service: &'a str,
        method: &'a str,
        query: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: &'a [u8],
        payload_sha: &'a str,
        canonical_request: &'a str,
        hashed_canonical_request: &'a str,
        string_to_sign: &'a str,
        authorization: &'a str,
    }

    fn check(v: &Vector<'_>) {
        assert_eq!(sha256_hex(v.body), v.payload_sha, "payload hash");
        let s = sign(
            &Request {
                method: v.method,
                uri: "/",
                query: v.query,
                headers: v.headers,
                payload: v.body,
            },
            v.service,
            v.id,
            v.key,
            v.ts,
        );
        if !v.canonical_request.is_empty() {
            assert_eq!(
                s.canonical_request, v.canonical_request,
                "canonical request"
            );
        }
        assert_eq!(
            sha256_hex(s.canonical_request.as_bytes()),
            v.hashed_canonical_request,
            "hashed canonical request"
        );
        if !v.string_to_sign.is_empty() {
            assert_eq!(s.string_to_sign, v.string_to_sign, "string to sign");
        }
        assert_eq!(s.authorization, v.authorization, "authorization");
        assert!(v
            .authorization
            .ends_with(&format!("Signature={}", s.signature)));
    }

    #[test]
    fn a1_dnspod_describe_record_list() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1700000000,
            service: "dnspod",
            method: "POST",
            query: "",
            headers: &[("Content-Type", "application/json"), ("Host", DNSPOD)],
            body: br#"{"Domain": "example.com", "Subdomain": "www", "RecordType": "A", "Limit": 3000}"#,
            payload_sha: "61fce9b8e79f9379f2ed726872d23a3a02a3eb5c3f26d27146cb5cde2db5a302",
            canonical_request: "POST\n/\n\ncontent-type:application/json\nhost:dnspod.tencentcloudapi.com\n\ncontent-type;host\n61fce9b8e79f9379f2ed726872d23a3a02a3eb5c3f26d27146cb5cde2db5a302",
            hashed_canonical_request: "d83e9bf047eddda3d987a4ca723d938558a323984a96025be2c3666ffebfc688",
            string_to_sign: "TC3-HMAC-SHA256\n1700000000\n2023-11-14/dnspod/tc3_request\nd83e9bf047eddda3d987a4ca723d938558a323984a96025be2c3666ffebfc688",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2023-11-14/dnspod/tc3_request, SignedHeaders=content-type;host, Signature=f5c4e0b40eae2c3ba98be05fe16bc963f70a5e95aefe971d293f4e761d966cf6",
        });
    }

    #[test]
    fn a2_temporary_credential_token_is_not_signed() {
        check(&Vector {
            id: "AKIDTMPEXAMPLEtemporarySecretId0001",
            key: "TMPsecretKEYexampleTemporaryKey1",
            ts: 1700003600,
            service: "dnspod",
            method: "POST",
            query: "",
            headers: &[("Content-Type", "application/json"), ("Host", DNSPOD)],
            body: br#"{"Domain": "example.com", "RecordId": 1234567, "Status": "DISABLE"}"#,
            payload_sha: "a6a3d594bd8f74b244b4b9fd246832d7ff17858a2f120bde1d32064fbfaafd1a",
            canonical_request: "POST\n/\n\ncontent-type:application/json\nhost:dnspod.tencentcloudapi.com\n\ncontent-type;host\na6a3d594bd8f74b244b4b9fd246832d7ff17858a2f120bde1d32064fbfaafd1a",
            hashed_canonical_request: "19a2290a311d78cfe10e6a1b18b2ce8b331253f65863f1bc0651ecde9de24fae",
            string_to_sign: "TC3-HMAC-SHA256\n1700003600\n2023-11-14/dnspod/tc3_request\n19a2290a311d78cfe10e6a1b18b2ce8b331253f65863f1bc0651ecde9de24fae",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDTMPEXAMPLEtemporarySecretId0001/2023-11-14/dnspod/tc3_request, SignedHeaders=content-type;host, Signature=1718e43c773734f0316da0123bf5c88fe79d0c17cc3b8a65939348f1523b2896",
        });
    }

    #[test]
    fn a3_sms_send_sms_with_escaped_chinese() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1551113065,
            service: "sms",
            method: "POST",
            query: "",
            headers: &[("Content-Type", "application/json"), ("Host", SMS)],
            body: br#"{"PhoneNumberSet": ["+8613711112222"], "SmsSdkAppId": "1400006666", "SignName": "\u817e\u8baf\u4e91", "TemplateId": "1110", "TemplateParamSet": ["ap-shanghai", "\u5b95\u673a"]}"#,
            payload_sha: "c1b211a76cf61b77d9aec212df24e2bba5fd5280416abc9c0610bf9812313dd1",
            canonical_request: "POST\n/\n\ncontent-type:application/json\nhost:sms.tencentcloudapi.com\n\ncontent-type;host\nc1b211a76cf61b77d9aec212df24e2bba5fd5280416abc9c0610bf9812313dd1",
            hashed_canonical_request: "c7dace05bad95d7c7a59d66e68522627c4a83fd787d6acee81de76339463d34a",
            string_to_sign: "TC3-HMAC-SHA256\n1551113065\n2019-02-25/sms/tc3_request\nc7dace05bad95d7c7a59d66e68522627c4a83fd787d6acee81de76339463d34a",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2019-02-25/sms/tc3_request, SignedHeaders=content-type;host, Signature=4d9b672d19e4cf5442de4cd3eea0677bd2a54329ec7a25b189a7e759c39f41d8",
        });
    }

    #[test]
    fn a4_get_with_signed_query_string() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1700000000,
            service: "dnspod",
            method: "GET",
            query: "Domain=example.com&DomainGrade=DP_FREE",
            headers: &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Host", DNSPOD),
            ],
            body: b"",
            payload_sha: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            canonical_request: "GET\n/\nDomain=example.com&DomainGrade=DP_FREE\ncontent-type:application/x-www-form-urlencoded\nhost:dnspod.tencentcloudapi.com\n\ncontent-type;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            hashed_canonical_request: "9294525b7017cc4073593e974390d2cd5f93025fd4cd5cd144108e97250026cb",
            string_to_sign: "TC3-HMAC-SHA256\n1700000000\n2023-11-14/dnspod/tc3_request\n9294525b7017cc4073593e974390d2cd5f93025fd4cd5cd144108e97250026cb",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2023-11-14/dnspod/tc3_request, SignedHeaders=content-type;host, Signature=6c21aaf16dd5a4286abc25a992c781ea2c3e37c9dcf8d1a2355a8fff994471b7",
        });
    }

    #[test]
    fn b1_compact_utf8_body_and_charset_content_type() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1700000000,
            service: "dnspod",
            method: "POST",
            query: "",
            headers: &[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Host", DNSPOD),
            ],
            body: "{\"Domain\":\"example.com\",\"RecordId\":1234567,\"SubDomain\":\"www\",\"RecordType\":\"A\",\"RecordLine\":\"默认\",\"Value\":\"203.0.113.10\",\"TTL\":60}".as_bytes(),
            payload_sha: "0012ce15ecdfdb6e8a993e2989db790f716d229afbd3a7cae72452260a7c0284",
            canonical_request: "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:dnspod.tencentcloudapi.com\n\ncontent-type;host\n0012ce15ecdfdb6e8a993e2989db790f716d229afbd3a7cae72452260a7c0284",
            hashed_canonical_request: "76990611372235c59ba62578ff01e87811e6095a6efc5db1e968d00ced2a4434",
            string_to_sign: "TC3-HMAC-SHA256\n1700000000\n2023-11-14/dnspod/tc3_request\n76990611372235c59ba62578ff01e87811e6095a6efc5db1e968d00ced2a4434",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2023-11-14/dnspod/tc3_request, SignedHeaders=content-type;host, Signature=7526c2e350590b261ef25ea3aa44e07f014b692707e83e40a60de95de20eb1c8",
        });
    }

    #[test]
    fn b2_x_tc_action_signed_with_lowercased_value() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1700000000,
            service: "dnspod",
            method: "POST",
            query: "",
            headers: &[
                ("Content-Type", "application/json"),
                ("Host", DNSPOD),
                ("X-TC-Action", "CreateRecord"),
            ],
            body: br#"{"Domain":"example.com","SubDomain":"www","RecordType":"A","RecordLine":"\u9ed8\u8ba4","Value":"198.51.100.7","TTL":600,"Weight":50}"#,
            payload_sha: "b6deb63e2599a00823ff5596c7f8d2aabacedee627a69f693140af3df225a30f",
            canonical_request: "POST\n/\n\ncontent-type:application/json\nhost:dnspod.tencentcloudapi.com\nx-tc-action:createrecord\n\ncontent-type;host;x-tc-action\nb6deb63e2599a00823ff5596c7f8d2aabacedee627a69f693140af3df225a30f",
            hashed_canonical_request: "081cf6f83c71232ccbfbc4bef58b9ef3faf2dae503efef800d116d96b0835b22",
            string_to_sign: "TC3-HMAC-SHA256\n1700000000\n2023-11-14/dnspod/tc3_request\n081cf6f83c71232ccbfbc4bef58b9ef3faf2dae503efef800d116d96b0835b22",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2023-11-14/dnspod/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=c303d2c459412e4cc5e24e914d74c769e080e24e3b4700b94610512bdd24ecf7",
        });
    }

    #[test]
    fn b3_sms_empty_object_on_the_last_second_of_a_year() {
        check(&Vector {
            id: ID,
            key: KEY,
            ts: 1767225599,
            service: "sms",
            method: "POST",
            query: "",
            headers: &[("Content-Type", "application/json"), ("Host", SMS)],
            body: b"{}",
            payload_sha: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            canonical_request: "POST\n/\n\ncontent-type:application/json\nhost:sms.tencentcloudapi.com\n\ncontent-type;host\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            hashed_canonical_request: "99d83bdf7bca04c4d7baf174656e36cc08abc1ac4660b8f7a2023fd13df8103b",
            string_to_sign: "TC3-HMAC-SHA256\n1767225599\n2025-12-31/sms/tc3_request\n99d83bdf7bca04c4d7baf174656e36cc08abc1ac4660b8f7a2023fd13df8103b",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEEXAMPLEEXAMPLEEXAMPLE1234/2025-12-31/sms/tc3_request, SignedHeaders=content-type;host, Signature=75a7f8a1ee7d989a06518e2392ea6ab7cf24fc67874b8c20cfb9852856926a66",
        });
    }

    /// The documentation example (cvm DescribeInstances) in its three
    /// published variants; only the hashed canonical request and the header
    /// are given for these.
    const DOC_PAYLOAD: &[u8] = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const DOC_PAYLOAD_SHA: &str =
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064";
    const CVM: &[(&str, &str)] = &[
        ("Content-Type", "application/json; charset=utf-8"),
        ("Host", "cvm.tencentcloudapi.com"),
    ];

    #[test]
    fn c1_intl_doc_example() {
        check(&Vector {
            id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            ts: 1551113065,
            service: "cvm",
            method: "POST",
            query: "",
            headers: CVM,
            body: DOC_PAYLOAD,
            payload_sha: DOC_PAYLOAD_SHA,
            canonical_request: "",
            hashed_canonical_request: "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
            string_to_sign: "",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        });
    }

    #[test]
    fn c2_older_cn_doc_example_with_masked_key_taken_literally() {
        check(&Vector {
            id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            key: "Gu5t9xGARNpq86cd98joQYCN3*******",
            ts: 1551113065,
            service: "cvm",
            method: "POST",
            query: "",
            headers: CVM,
            body: DOC_PAYLOAD,
            payload_sha: DOC_PAYLOAD_SHA,
            canonical_request: "",
            hashed_canonical_request: "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
            string_to_sign: "",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
        });
    }

    #[test]
    fn c3_current_cn_doc_example_signing_x_tc_action() {
        check(&Vector {
            id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            key: "Gu5t9xGARNpq86cd98joQYCN3*******",
            ts: 1551113065,
            service: "cvm",
            method: "POST",
            query: "",
            headers: &[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Host", "cvm.tencentcloudapi.com"),
                ("X-TC-Action", "DescribeInstances"),
            ],
            body: DOC_PAYLOAD,
            payload_sha: DOC_PAYLOAD_SHA,
            canonical_request: "",
            hashed_canonical_request: "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
            string_to_sign: "",
            authorization: "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3",
        });
    }

    #[test]
    fn scope_date_is_utc_not_beijing_time() {
        // 2023-11-14 23:30 UTC is already the 15th in Beijing.
        assert_eq!(utc_date(1700004600), "2023-11-14");
    }
}
