//! Prints the identifier documents tailor extracts for every pair of
//! `fixtures/metrics/inputs.json`, in the shape of its `style_documents` entry. Run after a
//! deliberate change of the extraction (`make style-documents`), review, and paste them in:
//! `tests/suite/metrics.rs` then holds the extraction to the reviewed documents.

use std::collections::BTreeMap;

use tailor::metrics::identifier_document;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/metrics/inputs.json".to_string());
    let text = std::fs::read_to_string(&path)?;
    let inputs: serde_json::Value = serde_json::from_str(&text)?;
    let pairs = inputs["pairs"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{path} has no `pairs` array"))?;
    let mut docs = BTreeMap::new();
    for pair in pairs {
        let id = pair["id"].as_str().unwrap_or_default().to_string();
        let developer = pair["developer"].as_str().unwrap_or_default();
        let top1 = pair["predictions"][0].as_str().unwrap_or_default();
        docs.insert(
            id,
            serde_json::json!({
                "developer": identifier_document(developer),
                "generated": identifier_document(top1),
            }),
        );
    }
    println!("{}", serde_json::to_string_pretty(&docs)?);
    Ok(())
}
