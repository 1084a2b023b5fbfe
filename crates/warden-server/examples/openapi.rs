//! Prints the OpenAPI document `GET /openapi.json` serves.
fn main() {
    let doc = warden_server::routes::openapi();
    println!("{}", doc.to_pretty_json().unwrap_or_default());
}
