//! Prints the backend's OpenAPI document (what `GET /api/openapi.json` serves) as pretty JSON
//! on stdout, without starting anything: the web's API types are generated from it.
//!
//! `cargo run -q -p backend --example openapi > web/src/api/openapi.json`
//! (`scripts/api-types.sh` regenerates the document and the TypeScript types together).

fn main() {
    let doc = backend::openapi::document();
    let json = serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises");
    println!("{json}");
}
