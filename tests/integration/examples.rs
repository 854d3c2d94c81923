//! The examples are built and run here, so they cannot rot.

use cairn_host::{ExecutionStatus, Policy, Runtime};
use cairn_tests::{host, load, temp};

#[tokio::test]
async fn the_markdown_example_renders_a_document() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let component = load(&host, "markdown").await;
    let input = serde_json::json!({
        "markdown": "# Cairn\n\nDurable *flows* of checkpoints.\n\n## Why\n\nSpeed and safety.\n"
    });
    let outcome = host
        .run(&component, "render", &input.to_string())
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    let page: serde_json::Value =
        serde_json::from_str(outcome.output.as_deref().expect("output")).expect("json");
    assert_eq!(page["title"], "Cairn");
    assert_eq!(page["headings"], serde_json::json!(["Cairn", "Why"]));
    assert_eq!(page["words"], 9);
    let html = page["html"].as_str().expect("html");
    assert!(
        html.contains("<h1>Cairn</h1>") && html.contains("<em>flows</em>"),
        "{html}"
    );
    let detail = host
        .client()
        .execution(outcome.id)
        .expect("readable")
        .expect("journaled");
    assert!(detail.calls.iter().any(|c| c.runtime == Runtime::Isolated));
}
