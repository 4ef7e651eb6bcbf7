//! `function/deploy.sh --dry-run`: the tccli path of docs/deploy.md prints
//! every call it would make, per region, and runs none (no tccli needed,
//! nothing leaves the machine).

use std::process::Command;

fn dry_run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/function/deploy.sh"))
        .arg("--dry-run")
        .args(args)
        // No tccli on PATH: a dry run must not need it.
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_dry_run_prints_every_call_for_every_region_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("dns-failover.zip");
    std::fs::write(&zip, b"PK\x03\x04 not really a zip").unwrap();
    let zip = zip.display().to_string();
    let (code, out, err) = dry_run(&[
        "--regions",
        "ap-guangzhou,ap-shanghai",
        "--zip",
        &zip,
        "--env",
        "RUST_LOG=info",
        "--env",
        "WECOM_WEBHOOK=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY",
    ]);
    assert_eq!(code, 0, "{err}");
    for region in ["ap-guangzhou", "ap-shanghai"] {
        for action in [
            "GetFunction",
            "CreateFunction",
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
            "ListTriggers",
            "CreateTrigger",
            "UpdateFunctionEventInvokeConfig",
        ] {
            let prefix = format!("tccli scf {action} --region {region} ");
            assert!(
                out.lines().any(|l| l.starts_with(&prefix)),
                "no {action} for {region}:\n{out}"
            );
        }
    }
    assert!(
        out.contains("--TriggerDesc '0 */1 * * * * *' --Enable OPEN"),
        "{out}"
    );
    assert!(
        out.contains(r#"{"RetryConfig":[{"RetryNum":0}],"MsgTTL":21600}"#),
        "{out}"
    );
    assert!(out.contains(r#""Runtime": "CustomRuntime""#), "{out}");
    assert!(!out.contains("SECRETKEY"), "a secret was printed:\n{out}");
    assert!(
        out.contains(r#"{"Key": "WECOM_WEBHOOK", "Value": "***"}"#),
        "{out}"
    );
}

#[test]
fn the_script_refuses_missing_regions_and_a_missing_zip() {
    let (code, _, err) = dry_run(&["--zip", "/nonexistent.zip", "--regions", "ap-guangzhou"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.zip not found"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("z.zip");
    std::fs::write(&zip, b"x").unwrap();
    let (code, _, err) = dry_run(&["--zip", &zip.display().to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("--regions is required"), "{err}");
}
