//! The README's examples, run as written: documentation that a user copies
//! must keep working.

use cairn_tests::{cairn, guest, temp};

use crate::guests;

/// The fenced block of language `lang` that follows `heading` in the README.
fn readme_block(heading: &str, lang: &str) -> String {
    let readme = include_str!("../../README.md");
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("the README has no `{heading}`"))
        .1;
    let fence = format!("```{lang}\n");
    let body = after
        .split_once(&fence)
        .unwrap_or_else(|| panic!("no ```{lang} block after `{heading}`"))
        .1;
    body.split_once("\n```")
        .unwrap_or_else(|| panic!("an unclosed block after `{heading}`"))
        .0
        .to_owned()
}

#[test]
fn the_readme_policy_file_is_accepted_and_applied() {
    let dir = temp();
    std::fs::create_dir_all(dir.path().join("data")).expect("data");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, readme_block("### The policy file", "toml")).expect("write");
    let env = guest(guests::ZOO_ENV);
    // `host = "./data"` is relative to the current directory.
    let out = cairn(dir.path())
        .current_dir(dir.path())
        .args(["run", env.to_str().expect("utf8"), "--json", "--policy"])
        .arg(&policy)
        .output()
        .expect("cairn starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let recorded = &json["calls"][0]["attempts"][0]["policy"];
    assert_eq!(recorded["fuel"], 2_000_000_000_u64, "{recorded}");
    assert_eq!(recorded["memory_bytes"], 128_u64 << 20, "{recorded}");
    let dirs = recorded["dirs"].to_string();
    assert!(dirs.contains(":/data:ro"), "{recorded}");
    assert!(
        recorded.to_string().contains("api.example.com"),
        "{recorded}"
    );
}
