//! The committed OpenAPI document is the one the code generates: a change
//! to the API shows in review as a change to `docs/openapi.json`.

#[test]
fn the_committed_openapi_document_is_what_the_code_generates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).expect("docs/openapi.json");
    let generated = chosync::api::openapi::document();
    assert!(
        committed == generated,
        "docs/openapi.json differs from what the code generates; run \
         `cargo run -- openapi > docs/openapi.json` and review the change"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
