//! Answers every operation of a kind can give, added to the OpenAPI document once here
//! rather than on each handler: a missing or wrong token (401) on every secured route,
//! and the body extractor's refusals (400 malformed, 413 too large, 415 not JSON) on
//! every route that takes a body. Clients and schemathesis read the document as the
//! contract, so an answer the server really gives must be in it.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the shared answers an operation lacks (its own, more specific ones stay).
pub fn document(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            add_to(op);
        }
    }
}

fn add_to(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if secured {
        add(op, "401", "no token, or not a token of this server");
    }
    if op.request_body.is_some() {
        add(op, "400", "the body is not valid JSON of this shape");
        add(op, "413", "the body is larger than --max-body");
        add(op, "415", "the body is not application/json");
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let problem = ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    op.responses
        .responses
        .insert(status.to_string(), RefOr::T(problem));
}
